"""The operator's command line: ``gaung init | serve | worker | demo | import-roster | report``.

Output is English (an operator tool). Every command works without a terminal: when stdin
is not a TTY nothing is ever prompted for, so scripts and CI never hang.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from channels.webpush import ensure_vapid_key
from cli import admin as admin_commands
from cli import dispatching as dispatch_commands
from cli import networks as network_commands
from cli import reach as reach_commands
from cli import sso as sso_commands
from cli import tokens as token_commands
from gaung.db import get_engine, is_postgres, session_scope
from gaung.errors import GaungError
from gaung.fields import normalise_email
from gaung.i18n import set_locale
from gaung.migrate import MigrationError, upgrade
from gaung.settings import get_settings
from roster.models import Agency, Role, User
from roster.passwords import check_new_password
from roster.security import hash_password

if TYPE_CHECKING:
    from channels.sandbox.server import SandboxServer

app = typer.Typer(
    help="Gaung: amplification scheduler for government public relations.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)
REPORT_WIDTH = 130
T = TypeVar("T")


class CliError(Exception):
    """A problem the operator must fix; printed without a traceback, exit status 1."""


@app.callback()
def _main() -> None:
    # Operator output stays English, whatever the default locale of the web UI is.
    set_locale("en")


def _run(action: Callable[[], T]) -> T:
    """Run a command body, turning expected failures into a message and exit status 1."""
    try:
        return action()
    except CliError as exc:
        err_console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from exc
    except GaungError as exc:
        err_console.print(f"[red]Error:[/red] {exc.render(lambda m: m)}")
        raise typer.Exit(1) from exc
    except (OperationalError, MigrationError) as exc:
        err_console.print(f"[red]Error:[/red] {_database_problem(exc)}", soft_wrap=True)
        raise typer.Exit(1) from exc


def _database_problem(exc: Exception) -> str:
    """One line an operator can act on, without a traceback or the database password."""
    url = get_engine().url.render_as_string(hide_password=True)
    if isinstance(exc, OperationalError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return f"cannot use the database at {url}: {reason}"
    return f"the database at {url} was not migrated: {exc}"


def _interactive() -> bool:
    return sys.stdin.isatty()


# --- init ------------------------------------------------------------------------------------


def _need(value: str | None, option: str, prompt: str) -> str:
    """The option's value, or a prompt on a terminal, or an error in a script."""
    if value:
        return value.strip()
    if _interactive():
        answer: str = typer.prompt(prompt)
        return answer.strip()
    raise CliError(f"{option} is required when not running in a terminal.")


def _agency_for_init(session: Session, slug: str | None, name: str | None) -> Agency:
    if slug is None:
        agencies = session.exec(select(Agency)).all()
        if len(agencies) == 1:
            return agencies[0]
    slug = _need(slug, "--agency-slug", "Agency short name (slug), e.g. kominfo")
    agency = session.exec(select(Agency).where(Agency.slug == slug)).first()
    if agency is not None:
        return agency
    name = _need(name, "--agency-name", "Agency full name")
    agency = Agency(slug=slug, name=name)
    session.add(agency)
    session.flush()
    console.print(f"Created agency [bold]{slug}[/bold] ({name}).")
    return agency


def _admin_email(typed: str) -> str:
    """Stored as the sign-in form compares it (gaung.fields)."""
    try:
        return normalise_email(typed)
    except GaungError:
        raise CliError(f"{typed!r} is not an e-mail address.") from None


def _admin_password(password: str | None) -> str:
    if password:
        return check_new_password(password)  # roster.passwords: the console's rule too
    if _interactive():
        entered: str = typer.prompt("Admin password", hide_input=True, confirmation_prompt=True)
        return _admin_password(entered)
    generated = secrets.token_urlsafe(12)
    console.print(f"Generated admin password (shown once): [bold]{generated}[/bold]")
    return generated


def _init(email: str | None, password: str | None, slug: str | None, name: str | None) -> None:
    upgrade(get_engine())
    ensure_vapid_key(get_engine())  # Web Push: the key pair browsers bind subscriptions to
    with session_scope() as session:
        admins = select(User).where(User.role == Role.ADMIN)
        if slug:  # that agency's admin: another agency may be set up on a running install
            admins = admins.join(Agency, col(Agency.id) == col(User.agency_id))
            admins = admins.where(Agency.slug == slug.strip())
        admin = session.exec(admins).first()
        if admin is not None:
            console.print(f"Already initialised: admin {admin.email} exists. Nothing to do.")
            return
        agency = _agency_for_init(session, slug, name)
        email = _admin_email(_need(email, "--admin-email", "Admin e-mail"))
        assert agency.id is not None
        session.add(
            User(
                email=email,
                name="Administrator",
                password_hash=hash_password(_admin_password(password)),
                role=Role.ADMIN,
                agency_id=agency.id,
            )
        )
    console.print(f"Created admin [bold]{email}[/bold] for agency {agency.slug}.")


@app.command()
def init(
    admin_email: Annotated[str | None, typer.Option(help="E-mail of the first admin.")] = None,
    admin_password: Annotated[
        str | None, typer.Option(help="Password (generated and printed when omitted).")
    ] = None,
    agency_slug: Annotated[
        str | None, typer.Option(help="Agency short name, e.g. kominfo.")
    ] = None,
    agency_name: Annotated[str | None, typer.Option(help="Agency full name.")] = None,
) -> None:
    """Migrate the database and create the agency and its first admin (once)."""
    _run(lambda: _init(admin_email, admin_password, agency_slug, agency_name))


# --- serve, worker, migrate ------------------------------------------------------------------

DEFAULT_PORT = 8000
SANDBOX_OFFSET = 765  # port 8000 → sandbox 8765 (mail catcher 8766); 8200 → 8965 (8966)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (a loopback base_url follows it).")
    ] = DEFAULT_PORT,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Do not run the clock in this process.")
    ] = False,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox", help="Demo: channels without tokens talk to a local fake (127.0.0.1)."
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Web worker processes (the clock runs once, in the parent).")
    ] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (a proxy)."),
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Comma-separated proxy addresses trusted with --proxy-headers.")
    ] = "127.0.0.1",
    access_log: Annotated[
        bool, typer.Option(help="Log every request (off: the reverse proxy logs them).")
    ] = False,
) -> None:
    """Migrate, then serve the web app (and run the scheduler clock in-process)."""
    import uvicorn

    from gaung.logging import configure
    from wiring import wire

    configure()
    wire()  # the clock below runs in this process; web.app.create_app wires each worker

    follow_port(port, sandbox=sandbox)
    if sandbox:
        os.environ["GAUNG_SANDBOX__ENABLED"] = "true"  # for this process and its settings
        get_settings.cache_clear()
    engine = get_engine()
    _run(lambda: upgrade(engine))
    fake = _run(lambda: _start_sandbox(engine))
    clock = None
    if not no_scheduler and get_settings().scheduler.enabled:
        from scheduler.clock import start_background

        clock = start_background(engine)
    try:
        if workers > 1:
            _metrics_dir()
        options = uvicorn_options(
            host=host,
            port=port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            access_log=access_log,
        )
        uvicorn.run("web.app:create_app", factory=True, **options)
    finally:
        if clock is not None:
            clock.shutdown(wait=True)
        if fake is not None:
            fake.stop()


def uvicorn_options(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    proxy_headers: bool = False,
    forwarded_allow_ips: str = "127.0.0.1",
    access_log: bool = False,
) -> dict[str, Any]:
    """The production server settings of ``gaung serve`` (bench/redirect.py uses them too).

    With several workers the parent process only supervises them (uvicorn spawns fresh
    interpreters), so the clock started before ``uvicorn.run`` runs once per ``serve``;
    each worker applies the same logging configuration itself.
    """
    from gaung.logging import dict_config

    return {
        "host": host,
        "port": port,
        "workers": workers,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "access_log": access_log,
        "log_config": dict_config(),
        "server_header": False,
        # Let a reverse proxy's keep-alive connections live longer than its idle timeout.
        "timeout_keep_alive": 75,
    }


def _metrics_dir() -> None:
    """Several web processes share /metrics through prometheus-client's multiprocess mode.

    The directory must exist and be empty before the workers start; an operator's own
    ``PROMETHEUS_MULTIPROC_DIR`` is used as it is.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    import atexit
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="gaung-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)


def _loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost")


def follow_port(port: int, *, sandbox: bool) -> None:
    """Serving a local instance on ``port``: its links (base_url) and the sandbox follow.

    Only a loopback base_url is moved (a real deployment's public URL is left alone), and
    neither GAUNG_BASE_URL nor GAUNG_SANDBOX__PORT set by hand is overridden. The sandbox's
    port keeps its distance from the web port, so two demos on 8000 and 8200 never collide.
    """
    settings = get_settings()
    if "GAUNG_BASE_URL" not in os.environ and _loopback(settings.base_url):
        host = urlsplit(settings.base_url).hostname or "127.0.0.1"
        os.environ["GAUNG_BASE_URL"] = f"http://{host}:{port}"
    if sandbox and "GAUNG_SANDBOX__PORT" not in os.environ and port != DEFAULT_PORT:
        os.environ["GAUNG_SANDBOX__PORT"] = str(port + SANDBOX_OFFSET)
    get_settings.cache_clear()


def _start_sandbox(engine: Engine) -> SandboxServer | None:
    """With sandbox.enabled, serve the local fake platforms in a background thread."""
    from channels import sandbox
    from channels.sandbox.mail import MissingExtraError
    from channels.sandbox.server import start

    settings = get_settings()
    if not settings.sandbox.enabled:
        return None
    faked = [slug for slug in sandbox.CHANNELS if sandbox.sandboxed(slug)]
    if not faked:
        console.print("Sandbox not started: every channel has a real token.")
        return None
    try:
        server = start(settings, engine)
    except MissingExtraError as exc:
        raise CliError(str(exc)) from exc
    except RuntimeError as exc:
        raise CliError(f"{exc} (set GAUNG_SANDBOX__PORT to a free port)") from exc
    console.print(
        f"Sandbox for {', '.join(faked)}: {server.url}/sandbox (nothing leaves 127.0.0.1)",
        soft_wrap=True,
    )
    if server.mail is not None:
        line = f"Sandbox mailbox (SMTP on 127.0.0.1:{server.mail.port}): {server.url}/sandbox/mail"
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    return server


@app.command()
def worker() -> None:
    """Run a queue worker (start as many as you like on PostgreSQL)."""
    from gaung.logging import configure
    from scheduler.clock import run_worker
    from wiring import wire

    configure()
    wire()
    run_worker(get_engine())


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version."""
    _run(lambda: upgrade(get_engine()))
    console.print("Database is up to date.")


# --- demo ------------------------------------------------------------------------------------


def _reset(engine: Engine, yes: bool) -> None:
    """Start from an empty database: delete the SQLite file, or drop every table on PostgreSQL."""
    if is_postgres(engine):
        if not yes:
            raise CliError("--reset on PostgreSQL drops every Gaung table; add --yes to confirm.")
        from wiring.models import metadata

        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        return
    database = engine.url.database
    engine.dispose()
    if database and database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)


def _demo(reset: bool, yes: bool, port: int) -> None:
    from cli.demo import logins as existing_logins
    from cli.demo import seed
    from wiring import wire

    wire()  # the demo dispatches posts: the same hooks as a worker
    follow_port(port, sandbox=True)  # the links printed below are those `serve` will answer

    engine = get_engine()
    if reset:
        _reset(engine, yes)
    upgrade(engine)
    with session_scope() as session:
        logins = None if reset else existing_logins(session)
        if logins is None:
            logins = seed(session)
        else:
            console.print(
                "The demo data is kept (start over with `gaung demo --reset`, or "
                "`make demo RESET=1`). Log-ins, with fresh links:"
            )
    staff = Table(title="Staff log-ins (password: " + logins.password + ")")
    for column in ("Role", "E-mail", "Name"):
        staff.add_column(column)
    for login in logins.staff:
        staff.add_row(login.role, login.email, login.name)
    console.print(staff)
    base = get_settings().base_url.rstrip("/")
    sandbox = get_settings().sandbox.url
    lines = [
        f"Console: {base}/login",
        "ASN inbox magic links:",
        *(f"  {name}: {url}" for name, url in logins.asn_links),
        *([f"Self-enrolment link: {logins.enrol_url}"] if logins.enrol_url else []),
        f"Sandbox (fake X, Facebook, Instagram, Telegram, WhatsApp): {sandbox}/sandbox",
        f"Sandbox mailbox (every e-mail Gaung sends): {sandbox}/sandbox/mail",
    ]
    for line in lines:
        # One unbroken line per link, so it can be copied from any terminal.
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    console.print(
        f"Run `gaung serve --sandbox --port {port}` (as `make demo` does) to serve these links: "
        "messages are delivered to the sandbox, reposts verified against it, without any keys."
    )


@app.command()
def demo(
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Start from an empty database (else an existing demo is kept)."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --reset on PostgreSQL.")] = False,
    port: Annotated[
        int, typer.Option(help="The port `gaung serve` will use: the printed links follow it.")
    ] = DEFAULT_PORT,
) -> None:
    """Fill the database with a demo ministry, staff, ASN and campaigns in every state.

    Run again, it keeps the demo and prints the log-ins and fresh links.
    """
    _run(lambda: _demo(reset, yes, port))


# --- import-roster ---------------------------------------------------------------------------


def _write_template(path: Path) -> None:
    from roster.importer import template_csv

    try:
        path.write_bytes(template_csv())
    except OSError as exc:
        raise CliError(f"Cannot write {path}: {exc.strerror}") from exc
    console.print(f"Wrote the roster template to {path}.")


def _import(path: Path, slug: str, *, create_units: bool, look_up: bool) -> None:
    from roster.importer import RosterImportError, import_roster
    from scheduler.handles import PlatformResolver
    from wiring import wire

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror}") from exc
    wire()  # the platform channels, for the handle lookups
    resolver = PlatformResolver() if look_up else None
    with Session(get_engine(), expire_on_commit=False) as session:
        agency = session.exec(select(Agency).where(Agency.slug == slug)).first()
        if agency is None:
            raise CliError(f"No agency with slug {slug!r}.")
        with Progress(
            TextColumn("Checking rows"), BarColumn(), MofNCompleteColumn(), console=err_console
        ) as progress:
            task = progress.add_task("import", total=None)
            try:
                result = import_roster(
                    session,
                    agency,
                    data,
                    create_units=create_units,
                    resolve=resolver,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
            except RosterImportError as exc:
                progress.stop()
                _print_row_errors(exc)
                raise typer.Exit(1) from exc
    console.print(
        f"Imported {path.name}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.units_created} new units."
    )
    if resolver is not None and any(resolver.calls.values()):
        calls = ", ".join(f"{p}: {n}" for p, n in sorted(resolver.calls.items()) if n)
        console.print(f"Handles looked up ({calls} API calls).")
    if result.unresolved:
        console.print(
            f"{result.unresolved} account(s) given by handle alone were not looked up "
            "(platform not connected, or Facebook): imported not yet verified; their "
            "ownership check learns the user id."
        )


def _print_row_errors(exc: GaungError) -> None:
    errors = getattr(exc, "errors", [])
    table = Table(title=exc.render(lambda m: m))
    for column in ("Line", "Field", "Problem"):
        table.add_column(column)
    for error in errors:
        table.add_row(str(error.line), error.field, error.render())
    err_console.print(table)
    for error in errors:
        # Plain lines too, so the output can be grepped and read in logs.
        err_console.print(str(error), markup=False, soft_wrap=True)


@app.command("import-roster")
def import_roster_command(
    file: Annotated[
        Path, typer.Argument(help="CSV file with a header row (with --template: where to write).")
    ],
    agency: Annotated[str | None, typer.Option(help="Slug of the agency to import into.")] = None,
    create_units: Annotated[
        bool,
        typer.Option("--create-units", help="Create the units the file names that do not exist."),
    ] = False,
    look_up: Annotated[
        bool,
        typer.Option(
            "--look-up/--no-look-up",
            help="Look up handles given without a user id on the connected platforms.",
        ),
    ] = True,
    template: Annotated[
        bool,
        typer.Option("--template", help="Write an empty template CSV (for Excel) to FILE."),
    ] = False,
) -> None:
    """Enrol ASN from a CSV file; nothing is written unless every row is valid."""
    if template:
        _run(lambda: _write_template(file))
        return
    if agency is None:
        err_console.print("[red]Error:[/red] --agency is required to import.")
        raise typer.Exit(2)
    slug = agency
    _run(lambda: _import(file, slug, create_units=create_units, look_up=look_up))


# --- report ----------------------------------------------------------------------------------


def _report(campaign_id: int) -> None:
    from assignments.reach import headline
    from assignments.reach_export import summary_columns, summary_rows
    from assignments.reach_snapshot import dashboard_reach
    from content.models import Campaign
    from gaung.i18n import format_datetime
    from roster.agencies import zone_of

    with Session(get_engine(), expire_on_commit=False) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise CliError(f"No campaign with id {campaign_id}.")
        # What the dashboard shows: live counts, the rest of a big campaign from its snapshot.
        reach = dashboard_reach(session, campaign_id)
        zone = zone_of(session.get(Agency, campaign.agency_id))
    # The dashboard's headline tiles, one "label: value" line each.
    for _key, label, value in headline(reach.total).items():
        console.print(f"{label}: {value}", soft_wrap=True, markup=False, highlight=False)
    if reach.as_of is not None:
        moment = format_datetime(reach.as_of, "short", tz=zone)
        console.print(f"Counts live; medians, impressions and timeline as of {moment} (snapshot).")
    rows = summary_rows(reach)
    table = Table(title=f"Campaign {campaign_id}: {campaign.title}")
    for index, column in enumerate(summary_columns()):
        if index < 2:  # scope and name: text that may wrap
            table.add_column(column, max_width=28)
        else:  # figures: never cut
            table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    # Nine columns of figures need ~120 characters; a narrower terminal wraps lines
    # rather than losing digits.
    wide = Console(width=max(console.width, REPORT_WIDTH))
    wide.print(table)
    console.print("Potential reach = followers of accounts with a reported repost.")


@app.command()
def report(campaign_id: Annotated[int, typer.Argument(help="Campaign id.")]) -> None:
    """Print a campaign's reach: totals, per platform and per unit."""
    _run(lambda: _report(campaign_id))


# --- backup ----------------------------------------------------------------------------------


def _backup(destination: Path) -> None:
    engine = get_engine()
    if is_postgres(engine):
        raise CliError("On PostgreSQL use pg_dump (see README, Operations).")
    if destination.exists():
        raise CliError(f"{destination} exists already; choose a new file.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    source = engine.raw_connection()
    try:
        target = sqlite3.connect(destination)
        try:
            # SQLite's online backup API: a consistent copy while the app keeps running.
            source.driver_connection.backup(target)  # type: ignore[union-attr]
        finally:
            target.close()
    finally:
        source.close()
    console.print(f"Backed up the database to {destination}.")


@app.command()
def backup(
    destination: Annotated[Path, typer.Argument(help="New file for the copy.")],
) -> None:
    """Copy the SQLite database consistently while Gaung runs (PostgreSQL: use pg_dump)."""
    _run(lambda: _backup(destination))


# --- encryption keys -------------------------------------------------------------------------


def encrypted_columns() -> list[tuple[sa.Table, list[sa.Column[Any]]]]:
    """Every table with EncryptedString columns, found in the models' metadata."""
    from gaung.crypto import EncryptedString
    from wiring.models import metadata

    found = []
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
        if columns:
            found.append((table, columns))
    return found


def _rotate_table(conn: sa.Connection, table: sa.Table, columns: list[sa.Column[Any]]) -> int:
    """Re-encrypt one table's encrypted values with the newest key; returns values changed."""
    from cryptography.fernet import InvalidToken

    from gaung.crypto import KEYS_ENV, rotate

    keys = list(table.primary_key.columns)
    # Read and write the stored tokens as plain strings: the column type would decrypt on
    # the way out and encrypt the new token a second time on the way in.
    raw = [sa.type_coerce(c, sa.String).label(c.name) for c in columns]
    changed = 0
    for row in conn.execute(sa.select(*keys, *raw).order_by(*keys)).mappings().all():
        values: dict[str, Any] = {}
        for column in columns:
            if row[column.name] is None:
                continue
            try:
                values[column.name] = sa.literal(rotate(row[column.name]), sa.String)
            except InvalidToken:
                ident = ", ".join(f"{k.name}={row[k.name]}" for k in keys)
                raise CliError(
                    f"{table.name}.{column.name} ({ident}) cannot be decrypted with any key in "
                    f"{KEYS_ENV}; nothing was changed. Add the key it was written with."
                ) from None
        if values:
            where = sa.and_(*(k == row[k.name] for k in keys))
            conn.execute(sa.update(table).where(where).values(values))
            changed += len(values)
    return changed


def _rotate_key() -> None:
    from gaung.crypto import configured_keys

    counts: dict[str, int] = {}
    with get_engine().begin() as conn:  # one transaction: all re-encrypted, or nothing
        for table, columns in encrypted_columns():
            counts[table.name] = _rotate_table(conn, table, columns)
    for name, count in counts.items():
        console.print(f"{name}: {count} value(s) re-encrypted")
    console.print(
        f"Done: {sum(counts.values())} value(s) now use the newest of "
        f"{len(configured_keys())} key(s); older keys can be removed."
    )


@app.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored secret with the newest key (first in GAUNG_ENCRYPTION_KEYS)."""
    _run(_rotate_key)


app.add_typer(sso_commands.app, name="sso")  # gaung sso set | show | remove (cli/sso.py)
app.add_typer(token_commands.app, name="token")  # gaung token create | revoke (cli/tokens.py)
app.add_typer(reach_commands.app, name="reach")  # gaung reach check [--fix] (cli/reach.py)
app.add_typer(network_commands.app, name="network")  # gaung network create | add | remove | list
app.command("dispatch")(dispatch_commands.dispatch)  # gaung dispatch POST_ID (cli/dispatching.py)


app.add_typer(admin_commands.agency_app, name="agency")  # gaung agency add (cli/admin.py)
app.add_typer(admin_commands.staff_app, name="staff")  # gaung staff add | reset-password


@app.command("gen-key")
def gen_key() -> None:
    """Print a new encryption key, to put first in GAUNG_ENCRYPTION_KEYS."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())
