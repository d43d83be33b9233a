"""Live reach: counters per (campaign, unit, platform), kept by the database itself.

``reach_rollup`` holds the additive figures of ``assignments.reach.ReachFigures`` (assignments,
reported, verified, declined, rejected, expired, withdrawn, potential and verified reach,
deleted after verification, checkable, checkable verified, unverifiable, clicks) for every
(campaign, unit, platform), with the campaign's agency. Database triggers (created by migration
0030, their text below) add each change's difference in the same statement, hence the same
transaction, as the change: an assignment inserted (dispatch, in one grouped upsert per
statement on PostgreSQL), its state moved (report, decline, verification, rejection, a deleted
repost, expiry, withdrawal), an ``unverifiable`` evidence row (it moves a reported Instagram
repost from "checkable" to "reported, not verifiable"), a click written by the click flush, or
any of those rows deleted. No code path can forget to count (tests' factories, bulk
``UPDATE``s, the demo), and a change that moves nothing counted (erasure: the person goes,
the counts stay) writes nothing.

Contention: every change of one (campaign, unit, platform) updates that one row, which stays
locked until its transaction commits. Reports and verifications are short transactions of a
few milliseconds and a click flush writes one grouped upsert per flush, so a hot row costs at
most a few milliseconds of waiting at these rates (thousands of events a minute per unit).

``recount`` computes the same figures from the raw rows with ``assignments.reach``'s own
aggregate (an independent implementation); ``differences`` compares the two (``gaung reach
check``) and ``fix`` rewrites the stored counters from a recount.

Not in the roll-ups (not additive, or not per unit and platform): medians, impressions and
engagement (latest metrics snapshots), unique clickers, bot fetches, per post figures, the
timeline. Those come from the snapshot of a big campaign or are computed live for small ones.
"""

# The trigger SQL is put together from this module's constants only, never from input.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, delete, func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col

from assignments.models import Assignment, Click
from assignments.reach import ReachFigures, figure_columns, figures_from
from content.models import Campaign

# Counters kept from assignment rows, in column order; then clicks.
ASSIGNMENT_COUNTERS = (
    "assignments",
    "reported",
    "verified",
    "declined",
    "rejected",
    "expired",
    "withdrawn",
    "potential_reach",
    "verified_reach",
    "deleted_after_verification",
    "checkable",
    "checkable_verified",
    "unverifiable",
)
COUNTERS = (*ASSIGNMENT_COUNTERS, "clicks")


class ReachRollup(SQLModel, table=True):
    """The additive reach figures of one campaign's assignments of one unit on one platform."""

    __tablename__ = "reach_rollup"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    platform: str = Field(max_length=20, primary_key=True)
    agency_id: int = Field(index=True)  # the campaign's, for per-agency sums without a join
    assignments: int = 0
    reported: int = 0
    verified: int = 0
    declined: int = 0
    rejected: int = 0
    expired: int = 0
    withdrawn: int = 0
    # Followers summed over up to millions of reposts: beyond 32 bits.
    potential_reach: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    verified_reach: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    deleted_after_verification: int = 0
    checkable: int = 0
    checkable_verified: int = 0
    unverifiable: int = 0
    clicks: int = 0


Key = tuple[int, int, int, str]  # (campaign, agency, unit, platform)


# --- reading --------------------------------------------------------------------------------


def _figures(row: Any) -> ReachFigures:
    return ReachFigures(**{name: int(getattr(row, name)) for name in COUNTERS})


def stored(session: Session, campaign_ids: Sequence[int] | None = None) -> dict[Key, ReachFigures]:
    """The roll-up rows, per (campaign, agency, unit, platform); every campaign's when None."""
    query = sa_select(ReachRollup)
    if campaign_ids is not None:
        query = query.where(col(ReachRollup.campaign_id).in_(list(campaign_ids)))
    return {
        (row.campaign_id, row.agency_id, row.unit_id, row.platform): _figures(row)
        for row in session.exec(query).scalars()  # type: ignore[call-overload]
    }


@dataclass
class LiveFigures:
    """A campaign's additive figures as they are this second, folded three ways."""

    total: ReachFigures
    by_platform: dict[str, ReachFigures]
    by_unit: dict[int, ReachFigures]  # by unit id


def live_figures(session: Session, campaign_id: int) -> LiveFigures:
    """Sum of the campaign's roll-up rows (a few dozen): live to the second."""
    live = LiveFigures(ReachFigures(), {}, {})
    for (_c, _a, unit_id, platform), figures in stored(session, [campaign_id]).items():
        live.total.add(figures)
        live.by_platform.setdefault(platform, ReachFigures()).add(figures)
        live.by_unit.setdefault(unit_id, ReachFigures()).add(figures)
    return live


def live_totals(session: Session, campaign_ids: Sequence[int]) -> dict[int, ReachFigures]:
    """Whole-campaign figures of many campaigns from their roll-ups, one GROUP BY."""
    if not campaign_ids:
        return {}
    sums = [func.coalesce(func.sum(getattr(ReachRollup, n)), 0).label(n) for n in COUNTERS]
    query = (
        sa_select(col(ReachRollup.campaign_id), *sums)
        .where(col(ReachRollup.campaign_id).in_(list(campaign_ids)))
        .group_by(col(ReachRollup.campaign_id))
    )
    return {int(row.campaign_id): _figures(row) for row in session.connection().execute(query)}


# --- recount, check, fix --------------------------------------------------------------------


def recount(session: Session, campaign_ids: Sequence[int] | None = None) -> dict[Key, ReachFigures]:
    """The same figures counted from the assignment and click rows (``assignments.reach``)."""
    campaign, unit, platform = (
        col(Assignment.campaign_id),
        col(Assignment.unit_id),
        col(Assignment.platform),
    )
    clicks_where = []
    where = []
    if campaign_ids is not None:
        clicks_where.append(col(Click.campaign_id).in_(list(campaign_ids)))
        where.append(campaign.in_(list(campaign_ids)))
    clicks = (
        sa_select(col(Click.assignment_id), func.count().label("n"))
        .where(*clicks_where)
        .group_by(col(Click.assignment_id))
        .subquery("clicks")
    )
    query = (
        sa_select(
            campaign,
            col(Campaign.agency_id),
            unit,
            platform,
            *figure_columns(),
            func.coalesce(func.sum(clicks.c.n), 0).label("clicks"),
        )
        .join(Campaign, col(Campaign.id) == campaign)
        .outerjoin(clicks, clicks.c.assignment_id == col(Assignment.id))
        .where(*where)
        .group_by(campaign, col(Campaign.agency_id), unit, platform)
    )
    counted: dict[Key, ReachFigures] = {}
    for row in session.connection().execute(query):
        figures = figures_from(row._mapping)
        figures.clicks = int(row._mapping["clicks"])
        counted[(int(row[0]), int(row[1]), int(row[2]), str(row[3]))] = figures
    return counted


@dataclass(frozen=True)
class Difference:
    campaign_id: int
    agency_id: int
    unit_id: int
    platform: str
    figure: str
    stored: int
    recounted: int


def _is_zero(figures: ReachFigures) -> bool:
    return all(getattr(figures, name) == 0 for name in COUNTERS)


def differences(session: Session, campaign_id: int | None = None) -> list[Difference]:
    """Every figure where the roll-ups and a recount disagree, in key order.

    A roll-up row of zeros with no rows behind it (all deleted) is no difference.
    """
    ids = None if campaign_id is None else [campaign_id]
    have, want = stored(session, ids), recount(session, ids)
    found = []
    for key in sorted(have.keys() | want.keys()):
        mine, truth = have.get(key, ReachFigures()), want.get(key, ReachFigures())
        for name in COUNTERS:
            if getattr(mine, name) != getattr(truth, name):
                found.append(Difference(*key, name, getattr(mine, name), getattr(truth, name)))
    return found


def fix(session: Session, campaign_id: int | None = None) -> int:
    """Rewrite the roll-ups (one campaign's, or all) from a recount; returns rows written.

    In the caller's transaction: commit to keep. Rows are locked by the delete, so a change
    counted concurrently waits and lands on the rewritten rows.
    """
    ids = None if campaign_id is None else [campaign_id]
    statement = delete(ReachRollup)
    if ids is not None:
        statement = statement.where(col(ReachRollup.campaign_id).in_(ids))
    session.execute(statement, execution_options={"synchronize_session": False})
    rows = [
        {
            "campaign_id": c,
            "agency_id": a,
            "unit_id": u,
            "platform": p,
            **{name: getattr(f, name) for name in COUNTERS},
        }
        for (c, a, u, p), f in recount(session, ids).items()
        if not _is_zero(f)
    ]
    if rows:
        session.connection().execute(insert(ReachRollup.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


# --- the triggers (created by migration 0030; the text lives here, next to the recount) -----

_REPORTED = "('reported', 'verified')"
_ALWAYS = "('x')"
_BY_ACCOUNT = "'instagram'"


def _seen_unverifiable(row: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM evidence e WHERE e.assignment_id = {row}.id"
        " AND e.outcome = 'unverifiable')"
    )


def _when(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _contributions(row: str) -> list[str]:
    """What one assignment row adds to each of ASSIGNMENT_COUNTERS (SQL, both databases).

    The same rules as ``assignments.reach.figure_columns`` and ``evidence.automatically_
    verifiable``, written out for a trigger's row.
    """
    status, platform = f"{row}.status", f"{row}.platform"
    followers = f"COALESCE({row}.followers_at_report, 0)"
    reposted = f"{status} IN {_REPORTED}"
    verified = f"{status} = 'verified'"
    checkable_platform = (
        f"({platform} IN {_ALWAYS} OR ({platform} = {_BY_ACCOUNT}"
        f" AND ({status} <> 'reported' OR NOT {_seen_unverifiable(row)})))"
    )
    unverifiable = (
        f"{status} = 'reported' AND ({platform} NOT IN ('x', {_BY_ACCOUNT})"
        f" OR ({platform} = {_BY_ACCOUNT} AND {_seen_unverifiable(row)}))"
    )
    return [
        "1",
        _when(reposted),
        _when(verified),
        _when(f"{status} = 'declined'"),
        _when(f"{status} = 'rejected'"),
        _when(f"{status} = 'expired'"),
        _when(f"{status} = 'withdrawn'"),
        f"CASE WHEN {reposted} THEN {followers} ELSE 0 END",
        f"CASE WHEN {verified} THEN {followers} ELSE 0 END",
        _when(f"{verified} AND {row}.flagged_gone_at IS NOT NULL"),
        _when(f"{status} IN ('reported', 'verified', 'rejected') AND {checkable_platform}"),
        _when(f"{verified} AND {platform} IN ('x', {_BY_ACCOUNT})"),
        _when(unverifiable),
    ]


_KEY = "campaign_id, unit_id, platform"
_AGENCY = "COALESCE((SELECT agency_id FROM campaign WHERE id = {campaign}), 0)"
_COLUMNS = f"{_KEY}, agency_id, {', '.join(COUNTERS)}"
_ADD = ", ".join(f"{n} = reach_rollup.{n} + excluded.{n}" for n in COUNTERS)
_UPSERT_TAIL = f"ON CONFLICT ({_KEY}) DO UPDATE SET {_ADD}"


def _subtract(values: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{n} = reach_rollup.{n} - ({v})" for n, v in values)


def _sqlite_triggers() -> list[str]:
    def add_row(row: str) -> str:
        values = ", ".join([*_contributions(row), "0"])
        agency = _AGENCY.format(campaign=f"{row}.campaign_id")
        return (
            f"INSERT INTO reach_rollup ({_COLUMNS}) SELECT {row}.campaign_id, {row}.unit_id,"
            f" {row}.platform, {agency}, {values} WHERE true {_UPSERT_TAIL};"
        )

    def subtract_row(row: str) -> str:
        sets = _subtract(zip(ASSIGNMENT_COUNTERS, _contributions(row), strict=True))
        return (
            f"UPDATE reach_rollup SET {sets} WHERE campaign_id = {row}.campaign_id"
            f" AND unit_id = {row}.unit_id AND platform = {row}.platform;"
        )

    key_of = (
        "(campaign_id, unit_id, platform) = (SELECT campaign_id, unit_id, platform"
        " FROM assignment WHERE id = {id})"
    )
    click_add = (
        f"INSERT INTO reach_rollup ({_COLUMNS}) SELECT a.campaign_id, a.unit_id, a.platform,"
        f" {_AGENCY.format(campaign='a.campaign_id')}, {', '.join(['0'] * 13)}, 1"
        f" FROM assignment a WHERE a.id = NEW.assignment_id {_UPSERT_TAIL};"
    )
    flips = (
        "(campaign_id, unit_id, platform) = (SELECT a.campaign_id, a.unit_id, a.platform"
        " FROM assignment a WHERE a.id = {row}.assignment_id AND a.status = 'reported'"
        f" AND a.platform = {_BY_ACCOUNT} AND NOT EXISTS (SELECT 1 FROM evidence e"
        " WHERE e.assignment_id = a.id AND e.outcome = 'unverifiable' AND e.id <> {row}.id))"
    )
    counted = "status, followers_at_report, flagged_gone_at, campaign_id, unit_id, platform"
    return [
        "CREATE TRIGGER reach_rollup_assignment_insert AFTER INSERT ON assignment"
        f" BEGIN {add_row('NEW')} END",
        f"CREATE TRIGGER reach_rollup_assignment_update AFTER UPDATE OF {counted}"
        f" ON assignment BEGIN {subtract_row('OLD')} {add_row('NEW')} END",
        "CREATE TRIGGER reach_rollup_assignment_delete AFTER DELETE ON assignment"
        f" BEGIN {subtract_row('OLD')} END",
        f"CREATE TRIGGER reach_rollup_click_insert AFTER INSERT ON click BEGIN {click_add} END",
        "CREATE TRIGGER reach_rollup_click_delete AFTER DELETE ON click BEGIN"
        " UPDATE reach_rollup SET clicks = clicks - 1"
        f" WHERE {key_of.format(id='OLD.assignment_id')}; END",
        "CREATE TRIGGER reach_rollup_evidence_insert AFTER INSERT ON evidence"
        " WHEN NEW.outcome = 'unverifiable' BEGIN UPDATE reach_rollup"
        " SET checkable = checkable - 1, unverifiable = unverifiable + 1"
        f" WHERE {flips.format(row='NEW')}; END",
        "CREATE TRIGGER reach_rollup_evidence_delete AFTER DELETE ON evidence"
        " WHEN OLD.outcome = 'unverifiable' BEGIN UPDATE reach_rollup"
        " SET checkable = checkable + 1, unverifiable = unverifiable - 1"
        f" WHERE {flips.format(row='OLD')}; END",
    ]


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {body} RETURN NULL; END $$"
    )


def _pg_trigger(name: str, event: str, table: str, referencing: str) -> str:
    return (
        f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
    )


def _pg_statements() -> list[str]:
    """Statement-level triggers over transition tables: one grouped write per statement."""
    sums = ", ".join(f"SUM(d.{n}) AS {n}" for n in COUNTERS)
    nonzero = " OR ".join(f"SUM(d.{n}) <> 0" for n in COUNTERS)

    def rows_of(table: str, sign: str) -> str:
        values = ", ".join(
            f"{sign}({v}) AS {n}"
            for n, v in zip(ASSIGNMENT_COUNTERS, _contributions("r"), strict=True)
        )
        return f"SELECT r.campaign_id, r.unit_id, r.platform, {values}, 0 AS clicks FROM {table} r"

    def upsert(source: str) -> str:
        agency = _AGENCY.format(campaign="d.campaign_id")
        return (
            f"INSERT INTO reach_rollup ({_COLUMNS}) SELECT d.campaign_id, d.unit_id, d.platform,"
            f" {agency}, {sums} FROM ({source}) d GROUP BY d.campaign_id, d.unit_id, d.platform"
            f" HAVING {nonzero} {_UPSERT_TAIL};"
        )

    def subtract(source: str) -> str:
        sets = ", ".join(f"{n} = reach_rollup.{n} - g.{n}" for n in COUNTERS)
        return (
            f"UPDATE reach_rollup SET {sets} FROM (SELECT d.campaign_id, d.unit_id, d.platform,"
            f" {sums} FROM ({source}) d GROUP BY d.campaign_id, d.unit_id, d.platform) g"
            " WHERE reach_rollup.campaign_id = g.campaign_id"
            " AND reach_rollup.unit_id = g.unit_id AND reach_rollup.platform = g.platform;"
        )

    zeros = ", ".join(f"0 AS {n}" for n in ASSIGNMENT_COUNTERS)
    clicks_of = (
        f"SELECT a.campaign_id, a.unit_id, a.platform, {zeros}, 1 AS clicks"
        " FROM {table} c JOIN assignment a ON a.id = c.assignment_id"
    )

    def flip(table: str, checkable: str, unverifiable: str, others: str) -> str:
        return (
            "UPDATE reach_rollup SET checkable = reach_rollup.checkable + g.n * "
            f"({checkable}), unverifiable = reach_rollup.unverifiable + g.n * ({unverifiable})"
            " FROM (SELECT a.campaign_id, a.unit_id, a.platform, count(*) AS n FROM assignment a"
            f" WHERE a.id IN (SELECT assignment_id FROM {table} WHERE outcome = 'unverifiable')"
            f" AND a.status = 'reported' AND a.platform = {_BY_ACCOUNT}"
            " AND NOT EXISTS (SELECT 1 FROM evidence e WHERE e.assignment_id = a.id"
            f" AND e.outcome = 'unverifiable'{others})"
            " GROUP BY a.campaign_id, a.unit_id, a.platform) g"
            " WHERE reach_rollup.campaign_id = g.campaign_id"
            " AND reach_rollup.unit_id = g.unit_id AND reach_rollup.platform = g.platform;"
        )

    triggers = [
        ("reach_rollup_assignment_insert", "INSERT", "assignment", "NEW TABLE AS new_rows",
         upsert(rows_of("new_rows", "+"))),
        ("reach_rollup_assignment_update", "UPDATE", "assignment",
         "OLD TABLE AS old_rows NEW TABLE AS new_rows",
         upsert(f"{rows_of('new_rows', '+')} UNION ALL {rows_of('old_rows', '-')}")),
        ("reach_rollup_assignment_delete", "DELETE", "assignment", "OLD TABLE AS old_rows",
         subtract(rows_of("old_rows", "+"))),
        ("reach_rollup_click_insert", "INSERT", "click", "NEW TABLE AS new_rows",
         upsert(clicks_of.format(table="new_rows"))),
        ("reach_rollup_click_delete", "DELETE", "click", "OLD TABLE AS old_rows",
         subtract(clicks_of.format(table="old_rows"))),
        ("reach_rollup_evidence_insert", "INSERT", "evidence", "NEW TABLE AS new_rows",
         flip("new_rows", "-1", "1", " AND e.id NOT IN (SELECT id FROM new_rows)")),
        ("reach_rollup_evidence_delete", "DELETE", "evidence", "OLD TABLE AS old_rows",
         flip("old_rows", "1", "-1", "")),
    ]  # fmt: skip
    statements = []
    for name, event, table, referencing, body in triggers:
        statements.append(_pg_function(name, body))
        statements.append(_pg_trigger(name, event, table, referencing))
    return statements


TRIGGERS = (
    ("reach_rollup_assignment_insert", "assignment"),
    ("reach_rollup_assignment_update", "assignment"),
    ("reach_rollup_assignment_delete", "assignment"),
    ("reach_rollup_click_insert", "click"),
    ("reach_rollup_click_delete", "click"),
    ("reach_rollup_evidence_insert", "evidence"),
    ("reach_rollup_evidence_delete", "evidence"),
)


def create_triggers_sql(dialect: str) -> list[str]:
    """The statements creating the roll-up triggers on ``dialect`` (postgresql or sqlite)."""
    return _pg_statements() if dialect == "postgresql" else _sqlite_triggers()


def drop_triggers_sql(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            s
            for name, table in TRIGGERS
            for s in (
                f"DROP TRIGGER IF EXISTS {name} ON {table}",
                f"DROP FUNCTION IF EXISTS {name}()",
            )
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name, _table in TRIGGERS]


def backfill_sql() -> str:
    """One INSERT ... SELECT filling an empty ``reach_rollup`` from every existing row."""
    values = ", ".join(f"SUM({v})" for v in _contributions("a"))
    return (
        f"INSERT INTO reach_rollup ({_COLUMNS}) SELECT a.campaign_id, a.unit_id, a.platform,"
        f" MIN(c.agency_id), {values}, COALESCE(SUM(k.n), 0) FROM assignment a"
        " JOIN campaign c ON c.id = a.campaign_id LEFT JOIN (SELECT assignment_id,"
        " count(*) AS n FROM click GROUP BY assignment_id) k ON k.assignment_id = a.id"
        " GROUP BY a.campaign_id, a.unit_id, a.platform"
    )
