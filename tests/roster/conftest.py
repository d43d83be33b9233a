"""Fixtures shared by the roster service tests."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from roster.models import Role
from tests.factories import make_agency, make_unit, make_user
from tests.roster.helpers import Place


@pytest.fixture
def place(session: Session) -> Place:
    agency = make_agency(session)
    unit = make_unit(session, agency, "Biro Humas")
    editor = make_user(session, agency, Role.EDITOR)
    return agency, unit, editor
