"""Personal tracking links: ``GET /r/{code}`` counts the click and redirects to the post link.

No sign-in and no session: the visitor is a member of the public who tapped a
link in an ASN's repost. The handler stays lean (one indexed read, one insert)
because every repost can bring many visitors.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from assignments.tracking import record_click, resolve
from gaung.db import get_session
from web.deps import render

router = APIRouter(include_in_schema=False)

# The code in the URL is personal: the target site must not learn it from the Referer.
_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@router.get("/r/{code}")
def follow(request: Request, code: str, session: Session = Depends(get_session)) -> Response:
    """302 to the post's link, or a 404 page: an unknown code never redirects anywhere."""
    found = resolve(session, code)
    if found is None:
        response = render(request, "not_found.html", status_code=404)
        response.headers.update(_HEADERS)
        return response
    assignment, target = found
    record_click(session, assignment, request.headers.get("referer"))
    return RedirectResponse(target, status_code=302, headers=_HEADERS)
