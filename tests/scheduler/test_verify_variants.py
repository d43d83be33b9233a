"""Verification accepts an own post written from any approved variant of the post."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus
from assignments.reporting import report_repost
from assignments.texts import assignment_text
from channels.x import XPlatform
from content.models import PostStatus, PostVariant
from roster.models import SocialAccount
from scheduler.dispatch import dispatch_post
from scheduler.verify import verify_link
from tests.channels import fakes_x
from tests.channels.fakes_x import FakeX
from tests.factories import (
    make_agency,
    make_asn,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

LANDING = "https://www.kominfo.go.id/berita/umkm-digital"


def test_an_own_post_of_each_variant_is_verified(
    db: Engine, session: Session, x: XPlatform, fake_x: FakeX
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    post.platforms, post.status = "x", PostStatus.APPROVED
    session.add(post)
    assert post.id is not None
    texts = ["Teks X sendiri.", "Alternatif satu.", "Alternatif dua."]
    session.add_all(
        PostVariant(post_id=post.id, platform="x", position=n, text=t) for n, t in enumerate(texts)
    )
    people = [make_asn(session, unit, platforms=["x"]) for _ in range(3)]
    for n, asn in enumerate(people):
        account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
        account.platform_user_id, account.handle = str(200 + n), f"asn_{n}"
        session.add(account)
    session.commit()
    dispatch_post(db, post.id)
    tasks = list(
        session.exec(
            select(Assignment).where(Assignment.post_id == post.id).order_by(col(Assignment.id))
        )
    )
    assert sorted(t.variant for t in tasks) == [0, 1, 2]
    for n, task in enumerate(tasks):
        text = assignment_text(session, task)
        assert text.startswith(texts[task.variant])
        assert task.id is not None
        assert task.asn_id is not None
        tweet_id = str(900 + n)
        asn = next(p for p in people if p.id == task.asn_id)
        report_repost(
            session, asn, task.id, f"https://x.com/asn_{people.index(asn)}/status/{tweet_id}"
        )
        # The ASN posts the variant's text as the inbox gave it (tracking link and all).
        link = f"http://testserver/r/{task.code}"
        fake_x.post(
            fakes_x.tweet(tweet_id, str(200 + people.index(asn)), text, unwound={link: LANDING})
        )
        verify_link(db, task.id, platform=x)
        session.expire_all()
        assert session.get_one(Assignment, task.id).status == AssignmentStatus.VERIFIED
