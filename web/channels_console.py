"""Console page "Channels: credentials": admins set platform and messenger secrets.

The fields are write-only: a stored secret is never sent back to the browser. The page
shows when and by whom each was set and, for secrets long enough that it gives nothing
away, its last four characters. Values are stored encrypted (channels.credentials) and
every change is audited without the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from assignments import problems
from channels import credentials
from channels.credentials import Spec
from gaung import crypto, i18n
from gaung.db import get_session
from gaung.settings import get_settings
from kernel import audit
from roster.models import Role, User
from roster.operators import is_operator
from web.deps import render, require_role, verify_csrf

# The platforms whose calls a credential section signs (a new one may end a refused token).
CREDENTIAL_PLATFORMS = {"x": ["x"], "graph": ["facebook", "instagram"]}

router = APIRouter(prefix="/console/channels", include_in_schema=False)


def operator(
    user: User = Depends(require_role(Role.ADMIN)), session: Session = Depends(get_session)
) -> User:
    """Credentials serve every agency: only the instance's operators manage them."""
    if not is_operator(session, user):
        message = i18n.gettext("Only the instance operator manages channel credentials.")
        raise HTTPException(status_code=403, detail=message)
    return user


PAGE = "/console/channels/credentials"
# Below this length the last four characters would give away too much of the secret.
MIN_LENGTH_FOR_HINT = 12


@dataclass(frozen=True)
class Row:
    spec: Spec
    label: str
    env_name: str
    from_environment: bool
    updated_at: datetime | None = None
    updated_by: str | None = None
    last4: str | None = None
    unreadable: bool = False

    @property
    def stored(self) -> bool:
        return self.updated_at is not None


def env_name(spec: Spec) -> str:
    return f"GAUNG_{spec.section.upper()}__{spec.field.upper()}"


def _hint(token: str) -> tuple[str | None, bool]:
    """(last four characters or None, whether the value could not be decrypted)."""
    try:
        plain = crypto.decrypt(token)
    except crypto.DecryptionError:
        return None, True
    return (plain[-4:] if len(plain) >= MIN_LENGTH_FOR_HINT else None), False


def rows(session: Session) -> list[Row]:
    settings = get_settings()
    stored = credentials.stored_rows(session)
    found = []
    for spec in credentials.SPECS:
        base: dict[str, Any] = {
            "spec": spec,
            "label": i18n.gettext(spec.label),
            "env_name": env_name(spec),
            "from_environment": bool(getattr(getattr(settings, spec.section), spec.field)),
        }
        row = stored.get(spec.name)
        if row is not None:
            who = session.get(User, row.updated_by) if row.updated_by else None
            last4, unreadable = _hint(row.token)
            base |= {
                "updated_at": row.updated_at,
                "updated_by": who.name if who else "-",
                "last4": last4,
                "unreadable": unreadable,
            }
        found.append(Row(**base))
    return found


def _spec(name: str) -> Spec:
    spec = credentials.BY_NAME.get(name)
    if spec is None:
        raise HTTPException(status_code=404)
    return spec


def _page(
    request: Request, session: Session, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    context = {
        "rows": rows(session),
        "errors": errors or {},
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/channels_credentials.html", context, status_code=status)


def _problem(value: str) -> str | None:
    if not value:
        return i18n.gettext("Enter the new value.")
    if len(value) > credentials.MAX_LENGTH:
        return i18n.gettext("The value is longer than %(limit)s characters.") % {
            "limit": credentials.MAX_LENGTH
        }
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return i18n.gettext("The value must not contain line breaks or control characters.")
    return None


def _done(request: Request, message: str) -> Response:
    credentials.clear_cache()
    request.session["flash"] = message
    return RedirectResponse(PAGE, status_code=303)


@router.get("/credentials")
def credentials_page(
    request: Request, user: User = Depends(operator), session: Session = Depends(get_session)
) -> Response:
    return _page(request, session)


@router.post("/credentials/{name}")
async def save_credential(
    request: Request,
    name: str,
    user: User = Depends(operator),
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    spec = _spec(name)
    value = str((await request.form()).get("value") or "").strip()
    problem = _problem(value)
    if problem:
        return _page(request, session, {spec.name: problem}, status=400)
    credentials.save(session, spec.name, value, user.id)
    problems.clear_refused_tokens(session, CREDENTIAL_PLATFORMS.get(spec.section, []))
    audit.record(
        session,
        actor=user,
        action="channel_credential.set",
        entity="channel_credential",
        entity_id=None,
        agency_id=user.agency_id,
        detail=spec.name,
    )
    session.commit()
    return _done(request, i18n.gettext("Saved. Channels use the new value within seconds."))


@router.post("/credentials/{name}/clear")
def clear_credential(
    request: Request,
    name: str,
    user: User = Depends(operator),
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    spec = _spec(name)
    if credentials.remove(session, spec.name):
        audit.record(
            session,
            actor=user,
            action="channel_credential.cleared",
            entity="channel_credential",
            entity_id=None,
            agency_id=user.agency_id,
            detail=spec.name,
        )
        session.commit()
    return _done(request, i18n.gettext("Removed. The environment value applies, if one is set."))
