"""The console's ASN list: paged and filtered within the agency."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from roster import listing
from roster.models import Asn, AsnStatus
from tests.factories import make_agency, make_asn, make_unit
from tests.roster.helpers import Place


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(page=st.integers(min_value=-3, max_value=10))
def test_the_asn_list_pages_and_filters_within_the_agency(
    session: Session, place: Place, page: int
) -> None:
    agency, unit, _editor = place
    if not session.exec(select(Asn).where(Asn.agency_id == agency.id)).first():
        for _ in range(3):
            make_asn(session, unit)
        make_asn(session, unit, status=AsnStatus.PENDING)
        make_asn(session, make_unit(session, make_agency(session)))
    everyone = listing.list_asn(session, agency.id or 0, page=page)
    assert everyone.total == 4
    assert everyone.page == 1
    assert len(everyone.people) == 4
    pending = listing.list_asn(session, agency.id or 0, status=AsnStatus.PENDING)
    assert pending.total == 1
    assert listing.status_counts(session, agency.id or 0) == {"active": 3, "pending": 1}
    first = everyone.people[-1]
    assert listing.list_asn(session, agency.id or 0, search=first.nip or "").people == [first]
