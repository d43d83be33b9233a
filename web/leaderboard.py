"""Recognition pages: the monthly leaderboard for ASN (inbox) and staff (dashboard), the ASN's
opt-in (inbox settings) and the agency admin's switch (agency page).

The figures and who is on the board are assignments.leaderboard's; the consent and the
switch roster.recognition's. An ASN sees the lists only once they opted in themselves
(those on it agreed to be seen by colleagues who take part too); before, the inbox invites
them and says what would be shown. Staff of the agency (supervisors, editors, approvers,
admins) see every list. When the agency turned the leaderboard off, nobody sees anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from assignments.leaderboard import (
    FIRST_YEAR,
    Board,
    Month,
    OwnStanding,
    Standing,
    agency_board,
    current_month,
    own_standing,
)
from gaung import i18n
from gaung.db import get_session
from gaung.errors import N_, GaungError
from roster import agencies, recognition
from roster.models import Agency, Asn, Role, User
from web.deps import current_asn, render, require_role, verify_csrf

router = APIRouter(include_in_schema=False)
reader = require_role(Role.SUPERVISOR, Role.APPROVER, Role.EDITOR)  # admin is always allowed
admin = require_role(Role.ADMIN)

INBOX_TOP = 10  # lines an ASN sees of each list (their own line is added when lower)
DASHBOARD_LIMIT = 500  # lines of the agency's list on one page; a unit's is shown whole
_FLASH_KEY = "inbox_flash"  # web.inbox_settings shows it
NEXT_PAGES = {"settings": "/inbox/settings#leaderboard", "board": "/inbox/leaderboard"}


def month_label(month: Month) -> str:
    """E.g. "Desember 2026" / "December 2026"."""
    return i18n.format_date(date(month.year, month.month, 1), "LLLL yyyy")


@dataclass(frozen=True)
class MonthChoice:
    """The month shown and the neighbours a page links to (none after the current month)."""

    month: Month
    label: str
    previous: Month | None
    next: Month | None
    current: Month


def choose_month(agency: Agency | None, typed: str | None) -> MonthChoice:
    """The month asked for (``YYYY-MM``), default the current one in the agency's zone.

    GaungError (field ``month``) for a malformed month or one still to come.
    """
    current = current_month(agency)
    month = Month.parse(typed) if typed and typed.strip() else current
    if month > current:
        raise GaungError(
            N_("Choose %(month)s or an earlier month."), field="month", month=month_label(current)
        )
    following, before = month.next(), month.previous()
    return MonthChoice(
        month,
        month_label(month),
        before if before.year >= FIRST_YEAR else None,
        following if following <= current else None,
        current,
    )


def shortlist(board: Board, asn_id: int | None, top: int = INBOX_TOP) -> list[Standing]:
    """The first ``top`` lines, and the reader's own line when it is further down."""
    lines = board.entries[:top]
    mine = board.of(asn_id)
    if mine is not None and mine not in lines:
        lines.append(mine)
    return lines


# --- ASN -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxCard:
    """What the inbox list shows: the ASN's standing, or an invitation to join."""

    standing: OwnStanding | None
    month_label: str


def inbox_card(session: Session, asn: Asn) -> InboxCard | None:
    """The inbox's leaderboard card; None when the agency turned the leaderboard off."""
    agency = session.get(Agency, asn.agency_id)
    if agency is None or not agency.leaderboard:
        return None
    month = current_month(agency)
    return InboxCard(own_standing(session, asn, month), month_label(month))


def settings_state(session: Session, asn: Asn) -> dict[str, Any]:
    """For the inbox settings page: whether the agency shows it, and the ASN's consent."""
    return {
        "enabled": recognition.agency_enabled(session, asn.agency_id),
        "joined_at": recognition.joined_at(session, asn),
    }


@router.get("/inbox/leaderboard")
def inbox_leaderboard(
    request: Request,
    month: str | None = None,
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
) -> Response:
    agency = session.get(Agency, asn.agency_id)
    context: dict[str, Any] = {
        "enabled": bool(agency and agency.leaderboard),
        "joined_at": recognition.joined_at(session, asn),
        "flash": request.session.pop(_FLASH_KEY, None),
        "typed_month": month or "",
    }
    try:
        choice = choose_month(agency, month)
    except GaungError as exc:
        context |= {"error": exc.render(i18n.gettext), "error_field": exc.field}
        choice = choose_month(agency, None)
        status = 400
    else:
        status = 200
    context["choice"] = choice
    board = agency_board(session, asn.agency_id, choice.month) if context["joined_at"] else None
    mine = board.of(asn.id) if board is not None else None
    if board is not None and mine is not None:
        unit_board = board.unit(asn.unit_id)
        context |= {
            "mine": mine,
            "unit_mine": unit_board.of(asn.id),
            "unit_size": unit_board.size,
            "unit_lines": shortlist(unit_board, asn.id),
            "agency_size": board.size,
            "agency_lines": shortlist(board, asn.id),
            "agency_name": agency.name if agency else "",
        }
    return render(request, "inbox/leaderboard.html", context, status_code=status)


@router.post("/inbox/settings/leaderboard")
def save_opt_in(
    request: Request,
    leaderboard: str = Form(""),
    next_page: str = Form("settings", alias="next"),
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """Join (``leaderboard=on``) or leave the leaderboard; back to the page it was asked on."""
    target = NEXT_PAGES.get(next_page, NEXT_PAGES["settings"])
    if leaderboard == "on":
        try:
            recognition.join(session, asn)
        except GaungError as exc:
            session.rollback()
            request.session[_FLASH_KEY] = exc.render(i18n.gettext)
            return RedirectResponse(target, status_code=303)
        note = N_("You are on the leaderboard. You can leave it at any time in your settings.")
    else:
        left = recognition.leave(session, asn)
        note = N_("You left the leaderboard.") if left else N_("Your settings are saved.")
    request.session[_FLASH_KEY] = i18n.gettext(note)
    return RedirectResponse(target, status_code=303)


# --- staff -----------------------------------------------------------------------------------


@router.get("/dashboard/leaderboard")
def dashboard_leaderboard(
    request: Request,
    month: str | None = None,
    unit: str | None = None,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    units = agencies.units(session, user.agency_id)
    chosen_unit = next((u for u in units if str(u.id) == (unit or "").strip()), None)
    context: dict[str, Any] = {
        "agency": agency,
        "units": units,
        "unit": chosen_unit,
        "typed_month": month or "",
        "limit": DASHBOARD_LIMIT,
    }
    status = 200
    try:
        if unit and unit.strip() and chosen_unit is None:
            raise GaungError(N_("Choose one of your agency's units."), field="unit")
        choice = choose_month(agency, month)
    except GaungError as exc:
        context |= {"error": exc.render(i18n.gettext), "error_field": exc.field}
        choice = choose_month(agency, None)
        status = 400
    context["choice"] = choice
    board = agency_board(session, user.agency_id, choice.month)
    if board is not None and chosen_unit is not None:
        board = board.unit(chosen_unit.id or 0)
    context |= {
        "board": board,
        "lines": board.entries[:DASHBOARD_LIMIT] if board is not None else [],
    }
    return render(request, "dashboard/leaderboard.html", context, status_code=status)


@router.post("/console/agency/leaderboard")
def save_agency_switch(
    request: Request,
    enabled: str = Form(""),
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """The admin turns the agency's leaderboard on or off."""
    agency = recognition.set_agency_switch(session, user, enabled == "on")
    note = N_("The leaderboard is on.") if agency.leaderboard else N_("The leaderboard is off.")
    request.session["flash"] = i18n.gettext(note)
    return RedirectResponse("/console/agency#leaderboard", status_code=303)
