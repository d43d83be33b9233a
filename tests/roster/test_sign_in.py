"""Sign-in links Humas sends: at most one a day, audited."""

from __future__ import annotations

from sqlmodel import Session, select

from kernel.outbox import OutboxMessage
from roster import sign_in
from tests.factories import make_asn
from tests.roster.helpers import Place, actions


def test_humas_sends_a_sign_in_link_at_most_once_a_day(session: Session, place: Place) -> None:
    _, unit, editor = place
    asn = make_asn(session, unit)
    assert sign_in.send_sign_in_link(session, editor, asn.id or 0) is True
    assert sign_in.send_sign_in_link(session, editor, asn.id or 0) is False
    keys = session.exec(select(OutboxMessage.key).where(OutboxMessage.asn_id == asn.id)).all()
    assert len(keys) == 1
    assert keys[0].startswith(f"signin:{asn.id}:")
    assert actions(session, asn) == ["asn.sign_in_link_sent"]
