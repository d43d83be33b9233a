"""GET /r/{code}: count the click and redirect to the post link; never redirect elsewhere."""

from __future__ import annotations

import string

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from assignments.models import Assignment, Click
from content.models import PostStatus
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

POST_LINK = "https://www.kominfo.go.id/berita/umkm-digital"


def _assignment(session: Session, link: str | None = POST_LINK) -> Assignment:
    agency = make_agency(session)
    author = make_user(session, agency)
    post = make_post(
        session, make_campaign(session, agency), author, status=PostStatus.DISPATCHED, link=link
    )
    return make_assignment(session, post, make_asn(session, make_unit(session, agency)), "x")


def test_tracking_link_redirects_to_the_post_and_records_the_click_source(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)

    response = client.get(
        f"/r/{assignment.code}",
        headers={"Referer": "https://t.co/AbCdEf123"},
        follow_redirects=False,
    )

    assert response.status_code == 302
    assert response.headers["location"] == POST_LINK
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    clicks = list(session.exec(select(Click).where(Click.assignment_id == assignment.id)))
    assert [(c.campaign_id, c.source) for c in clicks] == [(assignment.campaign_id, "x")]


def test_click_without_referer_is_counted_with_unknown_source(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)

    for _ in range(2):
        client.get(f"/r/{assignment.code}", follow_redirects=False)

    sources = session.exec(select(Click.source).where(Click.assignment_id == assignment.id))
    assert list(sources) == ["", ""]


def test_unknown_code_shows_not_found_page_and_never_redirects(
    client: TestClient, session: Session
) -> None:
    _assignment(session)

    response = client.get("/r/does-not-exist", follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers
    assert "Tautan tidak ditemukan" in response.text
    assert session.exec(select(Click)).first() is None


def test_code_of_a_post_without_link_is_not_found(client: TestClient, session: Session) -> None:
    assignment = _assignment(session, link=None)

    response = client.get(f"/r/{assignment.code}", follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(code=st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=1))
def test_no_guessed_code_ever_redirects(client: TestClient, session: Session, code: str) -> None:
    known = session.exec(select(Assignment.code)).all()
    if not known:
        _assignment(session)
        known = session.exec(select(Assignment.code)).all()
    if code in known or code in (".", ".."):
        return  # a real code redirects by design; dot segments are not codes at all

    response = client.get(f"/r/{code}", follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers


def test_following_a_link_starts_no_session(client: TestClient, session: Session) -> None:
    """Visitors are the public: no cookie is set on them."""
    assignment = _assignment(session)

    response = client.get(f"/r/{assignment.code}", follow_redirects=False)

    assert response.status_code == 302
    assert "set-cookie" not in response.headers
