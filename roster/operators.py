"""Who runs the instance: the people who may manage what every agency shares.

Platform and messenger credentials (channels.credentials) serve every agency on the
instance, so an agency's admin must not read, replace or clear them for the others. The
operators are the staff e-mails listed in ``auth.operators``; an instance with one agency
and no list is run by that agency, so its admins are the operators.
"""

from __future__ import annotations

from sqlmodel import Session, func, select

from gaung.fields import email_key
from gaung.settings import get_settings
from roster.models import Agency, Role, User


def is_operator(session: Session, user: User) -> bool:
    if not user.active:
        return False
    listed = {email_key(email) for email in get_settings().auth.operators}
    if listed:
        return email_key(user.email) in listed
    if user.role != Role.ADMIN:
        return False
    agencies = session.exec(select(func.count()).select_from(Agency)).one()
    return agencies == 1
