"""The ASN's own data: see it, download it as JSON, and leave Gaung (erasure).

Open to anyone signed in through their magic link who has not left, also while their
enrolment is pending or was rejected (web.enrol.current_member).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session
from roster import privacy
from roster.models import Asn
from web.deps import end_session, render, verify_csrf
from web.enrol import current_member

router = APIRouter(prefix="/inbox", include_in_schema=False)
_ = i18n.gettext


@router.get("/privacy")
def privacy_page(
    request: Request,
    asn: Asn = Depends(current_member),
    session: Session = Depends(get_session),
) -> Response:
    data = privacy.export(session, asn)
    context = {"data": data, "member": asn, "left": False, "confirm_error": None}
    response = render(request, "inbox/privacy.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/privacy.json")
def privacy_download(
    asn: Asn = Depends(current_member), session: Session = Depends(get_session)
) -> Response:
    body = json.dumps(privacy.export(session, asn), ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="gaung-my-data.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/leave")
def leave(
    request: Request,
    confirm: str = Form(""),
    asn: Asn = Depends(current_member),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    if confirm != "yes":
        context = {
            "data": privacy.export(session, asn),
            "member": asn,
            "left": False,
            "confirm_error": _("Tick the box to confirm that you want to leave."),
        }
        return render(request, "inbox/privacy.html", context, status_code=400)
    privacy.leave(session, asn)
    end_session(request)
    return render(request, "inbox/privacy.html", {"left": True})
