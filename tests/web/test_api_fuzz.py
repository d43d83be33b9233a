"""Schemathesis fuzzes every operation of the JSON API, reads and writes, with an admin's
API token, on both databases: no input makes it answer 500, and answers match the OpenAPI
document."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assignments.models import AssignmentStatus
from content.models import PostStatus
from gaung.db import utcnow
from roster import api_tokens
from roster.models import Role
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from web.app import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def signed_in(db: Engine, session: Session) -> dict[str, str]:
    """An admin's bearer token, in an agency with a campaign, a post and a reported
    assignment (admins may make every write, so the writes get past the role checks)."""
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor, units=[unit])
    post = make_post(session, campaign, editor, status=PostStatus.DISPATCHED)
    make_post(session, campaign, editor)  # a draft, for the draft-only writes
    assignment = make_assignment(session, post, make_asn(session, unit))
    assignment.status = AssignmentStatus.REPORTED
    assignment.repost_url = "https://x.com/asn/status/1"
    assignment.reported_at = utcnow()
    session.add(assignment)
    session.commit()
    issued = api_tokens.create_token(
        session, make_user(session, agency, role=Role.ADMIN), name="fuzz"
    )
    return {"Authorization": f"Bearer {issued.secret}"}


# Loaded once at import: the OpenAPI document needs no database. Requests go to this app,
# which reaches the test database of each backend through the `db` fixture.
schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_the_api_fail(case: Any, signed_in: dict[str, str]) -> None:
    case.call_and_validate(headers=signed_in, checks=CHECKS)


def test_every_operation_is_fuzzed() -> None:
    """Reads and writes alike: a new endpoint cannot slip past the fuzzer."""
    found = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    operations = {(op.method.upper(), op.path) for op in found}
    assert ("POST", "/api/campaigns") in operations
    assert ("PATCH", "/api/posts/{post_id}") in operations
    assert ("POST", "/api/posts/{post_id}/withdraw") in operations
    assert len(operations) >= 20
