"""Ownership codes: issued per account, checked by a job through the platform channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assignments.metrics import Metrics
from channels import platforms
from channels.platforms import (
    AccountGone,
    AccountInfo,
    AuthError,
    NotConnected,
    PostRef,
    RateLimited,
    RepostMatch,
    Unverifiable,
)
from channels.x import XPlatform
from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel import jobs, queue
from kernel.audit import AuditLog
from kernel.models import WorkItem, WorkStatus
from roster import enrolment, ownership, review
from roster.eligibility import eligible_accounts
from roster.models import (
    Agency,
    Asn,
    AsnStatus,
    OwnershipCheck,
    OwnershipState,
    Role,
    SocialAccount,
)
from scheduler.ownership import run_check
from tests.channels import fakes_x
from tests.channels.fakes_x import FakeX
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.roster.helpers import form, invitation


@dataclass
class FakePlatform:
    """A SocialPlatform at the network edge's level: canned accounts, posts or errors."""

    slug: str = "x"
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    posts: dict[str, PostRef] = field(default_factory=dict)
    error: Exception | None = None
    lookups: list[str] = field(default_factory=list)

    def connected(self) -> bool:
        return True

    def lookup_account(self, handle: str) -> AccountInfo:
        self.lookups.append(handle)
        if self.error is not None:
            raise self.error
        if handle not in self.accounts:
            raise AccountGone(self.slug, handle)
        return self.accounts[handle]

    def fetch_post(self, post_id_or_url: str, author_handle: str | None = None) -> PostRef:
        if self.error is not None:
            raise self.error
        return self.posts[post_id_or_url]

    def find_reposts(
        self, official_post_id: str, since_id: str | None = None
    ) -> tuple[list[RepostMatch], str | None, int]:
        return [], None, 0

    def metrics(self, post_ids: Sequence[str]) -> dict[str, Metrics]:
        return {}


def _enrolled(session: Session, **changes: object) -> tuple[Asn, dict[str, SocialAccount]]:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency, Role.EDITOR)
    asn = enrolment.enrol(session, invitation(session, editor), form(unit, **changes))
    accounts = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).all()
    return asn, {a.platform: a for a in accounts}


def _check(session: Session, account: SocialAccount) -> OwnershipCheck:
    return session.exec(select(OwnershipCheck).where(OwnershipCheck.account_id == account.id)).one()


def _requested(session: Session, asn: Asn, account: SocialAccount, proof: str = "") -> str:
    ownership.request_check(session, asn, account.id or 0, proof)
    return _check(session, account).code


# --- codes -----------------------------------------------------------------------------------


@given(st.data())
def test_codes_are_short_unambiguous_and_found_however_they_are_typed(data: st.DataObject) -> None:
    code = ownership.new_code()
    assert len(code) == len("GAUNG-") + ownership.CODE_LENGTH
    assert not set(code.removeprefix("GAUNG-")) & set("01OIL")
    before = data.draw(st.text(alphabet=" abc.\n|🇮🇩", max_size=20))
    after = data.draw(st.text(alphabet=" xyz.\n|", max_size=20))
    typed = data.draw(
        st.sampled_from([code, code.lower(), code.replace("-", " "), code[:5] + code[6:]])
    )
    assert ownership.code_found(code, f"{before}{typed}{after}")


@given(st.text(max_size=60).filter(lambda t: "7K3Q9" not in t.upper()))
def test_a_code_is_not_found_in_text_that_lacks_it(text: str) -> None:
    assert not ownership.code_found("GAUNG-7K3Q9", text)


def test_another_code_does_not_count() -> None:
    assert not ownership.code_found("GAUNG-7K3Q9", "GAUNG-7K3Q8")
    assert not ownership.code_found("GAUNG-7K3Q9", "7K3Q9")
    assert not ownership.code_found("GAUNG-7K3Q9", None)
    assert ownership.code_found("GAUNG-7K3Q9", "ASN Kominfo | gaung-7k3q9 | Jakarta")


# --- asking for a check ----------------------------------------------------------------------


def test_check_queues_one_job_until_it_has_run(session: Session) -> None:
    asn, accounts = _enrolled(session)
    account = accounts["x"]
    _requested(session, asn, account)
    _requested(session, asn, account)  # a double click
    items = session.exec(select(WorkItem).where(WorkItem.kind == ownership.JOB_KIND)).all()
    assert [i.key for i in items] == [f"ownership:{account.id}:1"]
    assert _check(session, account).state == OwnershipState.CHECKING


def test_someone_elses_account_is_not_found(session: Session) -> None:
    asn, _ = _enrolled(session)
    _, theirs = _enrolled(
        session, nip="199001012015031002", email="b@example.go.id", handles={"x": "other_person"}
    )
    with pytest.raises(NotFoundError):
        ownership.request_check(session, asn, theirs["x"].id or 0)
    with pytest.raises(NotFoundError):
        ownership.renew_code(session, asn, theirs["x"].id or 0)


def test_an_expired_code_must_be_renewed(session: Session) -> None:
    asn, accounts = _enrolled(session)
    check = _check(session, accounts["x"])
    check.expires_at = utcnow() - timedelta(seconds=1)
    session.add(check)
    session.commit()
    with pytest.raises(GaungError, match="expired"):
        ownership.request_check(session, asn, accounts["x"].id or 0)
    old = check.code
    renewed = ownership.renew_code(session, asn, accounts["x"].id or 0)
    assert renewed.code != old
    assert renewed.expires_at > utcnow() + timedelta(hours=47)
    assert renewed.state == OwnershipState.WAITING


def test_a_post_link_is_only_for_facebook(session: Session) -> None:
    asn, accounts = _enrolled(session, handles={"x": "siti", "facebook": "siti.rahayu"})
    with pytest.raises(GaungError) as raised:
        ownership.request_check(session, asn, accounts["x"].id or 0, "https://x.com/siti/status/1")
    assert raised.value.field == "proof_url"
    with pytest.raises(GaungError) as raised:
        ownership.request_check(session, asn, accounts["facebook"].id or 0, "https://evil.test/")
    assert raised.value.field == "proof_url"


# --- the job ---------------------------------------------------------------------------------


def test_the_code_in_the_bio_verifies_the_account_with_its_id_and_followers(
    session: Session,
) -> None:
    asn, accounts = _enrolled(session)
    code = _requested(session, asn, accounts["x"])
    fake = FakePlatform(
        accounts={
            "sitirahayu_": AccountInfo(
                "x", "4242", "SitiRahayu_", 1800, bio=f"ASN Kominfo · {code}"
            )
        }
    )
    assert run_check(session, accounts["x"].id or 0, fake) == OwnershipState.VERIFIED
    account = session.get_one(SocialAccount, accounts["x"].id)
    assert account.platform_user_id == "4242"
    assert account.followers == 1800
    assert account.ownership_verified_at is not None
    assert account.followers_at is not None
    assert _check(session, account).state == OwnershipState.VERIFIED
    # A job run again later (a retried item) does nothing.
    assert run_check(session, account.id or 0, fake) is None
    assert fake.lookups == ["sitirahayu_"]


def test_no_code_in_the_bio_leaves_the_account_unverified(session: Session) -> None:
    asn, accounts = _enrolled(session)
    _requested(session, asn, accounts["x"])
    fake = FakePlatform(accounts={"sitirahayu_": AccountInfo("x", "4242", "s", 1800, bio="Hi")})
    assert run_check(session, accounts["x"].id or 0, fake) == OwnershipState.NOT_FOUND
    assert session.get_one(SocialAccount, accounts["x"].id).ownership_verified_at is None
    assert "bio" in _check(session, accounts["x"]).detail
    # The person fixes their bio and checks again: a second job with its own key.
    _requested(session, asn, accounts["x"])
    assert _check(session, accounts["x"]).requests == 2


def test_an_account_someone_else_enrolled_is_refused(session: Session) -> None:
    other = make_asn(session, make_unit(session, make_agency(session)), platforms=["x"])
    taken_id = session.exec(
        select(SocialAccount.platform_user_id).where(SocialAccount.asn_id == other.id)
    ).one()
    asn, accounts = _enrolled(session)
    code = _requested(session, asn, accounts["x"])
    fake = FakePlatform(
        accounts={"sitirahayu_": AccountInfo("x", taken_id or "", "s", 900, bio=code)}
    )
    assert run_check(session, accounts["x"].id or 0, fake) == OwnershipState.TAKEN
    account = session.get_one(SocialAccount, accounts["x"].id)
    assert account.platform_user_id is None
    assert account.ownership_verified_at is None


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (NotConnected("x"), OwnershipState.MANUAL),
        (Unverifiable("x", "personal account"), OwnershipState.MANUAL),
        (AccountGone("x", "nobody"), OwnershipState.ERROR),
        (AuthError("x", "expired token"), OwnershipState.ERROR),
    ],
)
def test_channel_errors_leave_a_clear_state(session: Session, error: Exception, state: str) -> None:
    asn, accounts = _enrolled(session)
    _requested(session, asn, accounts["x"])
    assert run_check(session, accounts["x"].id or 0, FakePlatform(error=error)) == state
    check = _check(session, accounts["x"])
    assert check.state == state
    assert check.detail
    assert check.checked_at is not None


def test_a_rate_limit_puts_the_job_back_at_the_reset_time(session: Session) -> None:
    asn, accounts = _enrolled(session)
    _requested(session, asn, accounts["x"])
    reset = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(queue.RetryLater) as raised:
        run_check(session, accounts["x"].id or 0, FakePlatform(error=RateLimited("x", reset)))
    assert raised.value.at == reset
    assert _check(session, accounts["x"]).state == OwnershipState.CHECKING


def test_a_facebook_post_with_the_code_from_the_page_itself_verifies_it(session: Session) -> None:
    asn, accounts = _enrolled(session, handles={"facebook": "humas.biro"})
    link = "https://www.facebook.com/humas.biro/posts/123"
    code = _requested(session, asn, accounts["facebook"], link)
    page = AccountInfo("facebook", "5500", "humas.biro", 2100)
    post = PostRef("facebook", "5500_123", link, "5500", "Humas Biro", None, f"Kode: {code}")
    fake = FakePlatform(slug="facebook", accounts={"humas.biro": page}, posts={link: post})
    assert run_check(session, accounts["facebook"].id or 0, fake) == "verified"
    assert session.get_one(SocialAccount, accounts["facebook"].id).platform_user_id == "5500"


def test_a_facebook_post_by_another_account_does_not_prove_ownership(session: Session) -> None:
    asn, accounts = _enrolled(session, handles={"facebook": "humas.biro"})
    link = "https://www.facebook.com/my.small.page/posts/9"
    code = _requested(session, asn, accounts["facebook"], link)
    page = AccountInfo("facebook", "5500", "humas.biro", 2100)
    post = PostRef("facebook", "77_9", link, "77", "Small", None, code)
    fake = FakePlatform(slug="facebook", accounts={"humas.biro": page}, posts={link: post})
    assert run_check(session, accounts["facebook"].id or 0, fake) == "not_found"
    assert "not from" in _check(session, accounts["facebook"]).detail


def test_the_job_checks_a_real_x_bio_through_tweepy(
    db: Engine,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    x: XPlatform,
    fake_x: FakeX,
) -> None:
    asn, accounts = _enrolled(session)
    code = _requested(session, asn, accounts["x"])
    fake_x.sign_up(fakes_x.user("777", "SitiRahayu_", 2500, description=f"ASN | {code}"))
    monkeypatch.setitem(platforms.PLATFORMS, "x", lambda: x)

    assert jobs.run_due(db, "test-worker") == 1
    session.expire_all()
    account = session.get_one(SocialAccount, accounts["x"].id)
    assert (account.platform_user_id, account.followers) == ("777", 2500)
    assert account.ownership_verified_at is not None
    assert fake_x.paths() == ["/2/users/by/username/sitirahayu_"]
    assert fake_x.params(0)["user.fields"] == "description,public_metrics"
    item = session.exec(select(WorkItem).where(WorkItem.kind == ownership.JOB_KIND)).one()
    assert item.status == WorkStatus.DONE


# --- Humas by hand, and eligibility ----------------------------------------------------------


def test_humas_confirms_by_hand_with_followers_audited(session: Session) -> None:
    asn, accounts = _enrolled(session, handles={"facebook": "siti.rahayu"})
    facebook = accounts["facebook"]
    outsider = make_user(session, make_agency(session), Role.EDITOR)
    with pytest.raises(NotFoundError):
        ownership.confirm_manually(session, outsider, facebook.id or 0, followers=600)
    agency = session.get_one(Agency, asn.agency_id)
    with pytest.raises(ForbiddenError):
        ownership.confirm_manually(
            session, make_user(session, agency, Role.SUPERVISOR), facebook.id or 0, followers=600
        )
    editor = make_user(session, agency, Role.EDITOR)
    ownership.confirm_manually(session, editor, facebook.id or 0, followers=600)
    account = session.get_one(SocialAccount, facebook.id)
    assert account.ownership_verified_at is not None
    assert account.followers == 600
    assert account.platform_user_id is None  # a personal profile's id stays unknown
    assert _check(session, account).state == OwnershipState.VERIFIED
    entry = session.exec(
        select(AuditLog).where(AuditLog.action == "account.ownership_confirmed")
    ).one()
    assert (entry.entity, entry.entity_id, entry.actor_id) == (
        "social_account",
        account.id,
        editor.id,
    )


def test_humas_cannot_confirm_an_id_someone_else_enrolled(session: Session) -> None:
    other = make_asn(session, make_unit(session, make_agency(session)), platforms=["facebook"])
    taken = session.exec(
        select(SocialAccount.platform_user_id).where(SocialAccount.asn_id == other.id)
    ).one()
    asn, accounts = _enrolled(session, handles={"facebook": "siti.rahayu"})
    editor = make_user(session, session.get_one(Agency, asn.agency_id), Role.EDITOR)
    with pytest.raises(GaungError) as raised:
        ownership.confirm_manually(
            session, editor, accounts["facebook"].id or 0, followers=600, user_id=taken or ""
        )
    assert raised.value.field == "user_id"


def test_only_verified_accounts_are_eligible(session: Session) -> None:
    asn, accounts = _enrolled(session)
    editor = make_user(session, session.get_one(Agency, asn.agency_id), Role.EDITOR)
    review.approve(session, editor, asn.id or 0)
    x = session.get_one(SocialAccount, accounts["x"].id)
    x.followers = 5000
    session.add(x)
    session.commit()
    assert eligible_accounts(session, agency_id=asn.agency_id, unit_ids=[], platform="x") == []
    ownership.confirm_manually(session, editor, x.id or 0, followers=5000)
    assert eligible_accounts(session, agency_id=asn.agency_id, unit_ids=[], platform="x") == [
        (asn.id, asn.unit_id, x.id)
    ]
    assert asn.status == AsnStatus.ACTIVE
