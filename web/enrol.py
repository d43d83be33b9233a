"""Self-enrolment pages: the public form behind an invitation link, and the ASN's accounts.

``/enrol/{token}`` is public and mobile-first; a valid submission creates a PENDING ASN,
signs this browser in as them and shows the next step: ``/inbox/accounts``, where each
account's ownership code is shown with a "check" button (which only queues a job) and,
once the person is active and the account verified, its registry badge and link.

Pending and rejected people can open their accounts page and their data page
(web.privacy) but not the assignment inbox; ``current_member`` is that dependency.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from gaung import i18n
from gaung.db import get_session, utcnow
from gaung.errors import N_, GaungError, NotFoundError
from gaung.settings import PLATFORMS
from kernel.limits import display_name
from roster import eligibility, enrolment, invitations, listing, ownership, registry
from roster.models import Agency, Asn, AsnStatus, Invitation, OwnershipState, SocialAccount, Unit
from web.deps import (
    LoginRequired,
    asn_identity,
    begin_session,
    end_session,
    render,
    signed_in_asn,
    verify_csrf,
)
from web.inbox_settings import messenger_choices

router = APIRouter(include_in_schema=False)

# Who may open their accounts and data pages (the assignment inbox is for ACTIVE only).
MEMBER_STATUSES = frozenset({AsnStatus.ACTIVE, AsnStatus.PENDING, AsnStatus.REJECTED})
FLASH_KEY = "member_flash"
STATUS_LABELS = {
    AsnStatus.PENDING: N_("Waiting for Humas' approval"),
    AsnStatus.ACTIVE: N_("Active"),
    AsnStatus.REJECTED: N_("Not approved"),
    AsnStatus.SUSPENDED: N_("Suspended"),
    AsnStatus.LEFT: N_("Left Gaung"),
}
_ = i18n.gettext


def current_member(request: Request, session: Session = Depends(get_session)) -> Asn:
    """The signed-in ASN, also while pending or rejected; otherwise the inbox sign-in."""
    asn = signed_in_asn(request, session)
    if asn is None or asn.status not in MEMBER_STATUSES:
        end_session(request)
        raise LoginRequired("asn")
    if asn.status == AsnStatus.ACTIVE:
        request.state.asn = asn  # the menu's "My assignments" only makes sense for them
    return asn


def flash(request: Request, message: str) -> None:
    request.session[FLASH_KEY] = message


# --- the enrolment form --------------------------------------------------------------------


def _form_page(
    request: Request,
    session: Session,
    invitation: Invitation,
    form: enrolment.EnrolmentForm,
    errors: dict[str, str] | None = None,
) -> Response:
    agency = session.get(Agency, invitation.agency_id)
    units = list(
        session.exec(
            select(Unit).where(Unit.agency_id == invitation.agency_id).order_by(col(Unit.name))
        )
    )
    fixed = session.get(Unit, invitation.unit_id) if invitation.unit_id else None
    context = {
        "invitation": invitation,
        "agency": agency,
        "units": units,
        "fixed_unit": fixed,
        "form": form,
        "errors": errors or {},
        "platforms": [(p, display_name(p)) for p in PLATFORMS],
        "minimums": eligibility.minimums(agency),
        "consent_points": [_(point) for point in enrolment.CONSENT_POINTS],
        "consent_version": enrolment.CONSENT_VERSION,
        "messengers": [(choice.value, choice.label) for choice in messenger_choices()],
    }
    return render(request, "enrol/form.html", context, status_code=400 if errors else 200)


@router.get("/enrol/{token}")
def enrol_form(request: Request, token: str, session: Session = Depends(get_session)) -> Response:
    invitation = invitations.open_invitation(session, token)
    form = enrolment.EnrolmentForm(unit_id=invitation.unit_id, locale=i18n.get_locale())
    return _form_page(request, session, invitation, form)


@router.post("/enrol/{token}")
async def enrol_submit(
    request: Request,
    token: str,
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    invitation = invitations.open_invitation(session, token)
    data = await request.form()

    def text(name: str) -> str:
        value = data.get(name)
        return value if isinstance(value, str) else ""

    unit = text("unit_id")
    form = enrolment.EnrolmentForm(
        nip=text("nip"),
        name=text("name"),
        unit_id=int(unit) if unit.isdigit() else None,
        messenger=text("messenger"),
        email=text("email"),
        phone=text("phone"),
        handles={p: text(f"{p}_handle") for p in PLATFORMS},
        consent=text("consent") == "yes",
        consent_version=text("consent_version"),
        locale=i18n.get_locale(),
    )
    try:
        asn = enrolment.enrol(session, invitation, form)
    except enrolment.EnrolmentInvalid as exc:
        errors = {name: error.render(_) for name, error in exc.errors.items()}
        return _form_page(request, session, invitation, form, errors)
    begin_session(request, asn_identity(asn))
    request.session["enrolled"] = True
    return RedirectResponse("/inbox/accounts", status_code=303)


# --- the ASN's accounts --------------------------------------------------------------------


def _state_text(account: SocialAccount, check: Any) -> str:
    if account.ownership_verified_at is not None:
        message = check.detail if check is not None and check.detail else ownership.DETAIL_VERIFIED
    elif check is None:
        return ""
    elif check.state == OwnershipState.WAITING and ownership.is_expired(check):
        message = ownership.DETAIL_EXPIRED
    else:
        message = check.detail
    return _(message) % {"platform": display_name(account.platform)} if message else ""


@router.get("/inbox/accounts")
def accounts_page(
    request: Request,
    asn: Asn = Depends(current_member),
    session: Session = Depends(get_session),
) -> Response:
    accounts = listing.accounts_of(session, [asn.id or 0])[asn.id or 0]
    checks = ownership.checks_for(session, [a.id for a in accounts if a.id is not None])
    listed = asn.status == AsnStatus.ACTIVE
    rows = [
        {
            "account": account,
            "name": display_name(account.platform),
            "check": checks.get(account.id or 0),
            "state_text": _state_text(account, checks.get(account.id or 0)),
            "expired": (c := checks.get(account.id or 0)) is not None and ownership.is_expired(c),
            "entry_url": registry.entry_url(account.platform, account.handle),
            "badge_path": registry.badge_path(account.platform, account.handle),
            "listed": listed and account.ownership_verified_at is not None,
        }
        for account in accounts
    ]
    agency = session.get(Agency, asn.agency_id)
    context = {
        "member": asn,
        "agency": agency,
        "rows": rows,
        "status_text": _(STATUS_LABELS.get(AsnStatus(asn.status), asn.status)),
        "welcome": request.session.pop("enrolled", False),
        "flash": request.session.pop(FLASH_KEY, None),
        "now": utcnow(),
    }
    return render(request, "enrol/accounts.html", context)


@router.post("/inbox/accounts/{account_id}/check")
def check_account(
    request: Request,
    account_id: int,
    proof_url: str = Form(""),
    asn: Asn = Depends(current_member),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        ownership.request_check(session, asn, account_id, proof_url)
    except NotFoundError:
        raise
    except GaungError as exc:
        flash(request, exc.render(_))
    else:
        flash(request, _("We are checking your account. Reload this page in a minute."))
    return RedirectResponse("/inbox/accounts", status_code=303)


@router.post("/inbox/accounts/{account_id}/code")
def new_code(
    request: Request,
    account_id: int,
    asn: Asn = Depends(current_member),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        ownership.renew_code(session, asn, account_id)
    except NotFoundError:
        raise
    except GaungError as exc:
        flash(request, exc.render(_))
    else:
        flash(request, _("Here is your new code. The old one no longer works."))
    return RedirectResponse("/inbox/accounts", status_code=303)
