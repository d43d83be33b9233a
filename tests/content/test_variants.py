"""Per-platform texts of a post: own texts and alternatives, their limits and approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from content import variants, workflow
from content.models import Campaign, Post, PostStatus, PostVariant
from content.rendering import RenditionError, preview, x_weighted_length
from gaung.db import utcnow
from gaung.errors import GaungError
from roster.models import Role, User
from tests.factories import make_agency, make_campaign, make_user

# A normal Indonesian post: 260 characters of text, too long for X once framed.
LONG = (
    "Pemerintah meluncurkan Program Digitalisasi UMKM yang menjangkau satu juta pelaku "
    "usaha di 34 provinsi. Pelatihan gratis, pendampingan pemasaran daring, dan akses "
    "pembiayaan tersedia bagi pelaku usaha mikro. Daftar sekarang, ajak rekan "
    "Anda untuk ikut serta!"
)
SHORT = "Program Digitalisasi UMKM: pelatihan gratis untuk 1 juta pelaku usaha. Daftar sekarang!"


@pytest.fixture
def people(session: Session) -> tuple[User, User, Campaign]:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    approver = make_user(session, agency, Role.APPROVER)
    return editor, approver, make_campaign(session, agency, editor)


def _draft(session: Session, editor: User, campaign: Campaign, **fields: object) -> Post:
    values: dict[str, object] = {
        "master_text": LONG,
        "link": "https://www.kominfo.go.id/berita/umkm-digital",
        "hashtags": ["UMKMGoDigital"],
        "platforms": ["x", "facebook"],
        "scheduled_at": utcnow() + timedelta(hours=3),
    }
    values.update(fields)
    return workflow.create_post(session, editor, campaign, **values)  # type: ignore[arg-type]


def test_a_long_post_fits_x_only_with_its_own_shorter_text(
    session: Session, people: tuple[User, User, Campaign]
) -> None:
    editor, approver, campaign = people
    assert 250 <= len(LONG) <= 270
    post = _draft(session, editor, campaign)
    with pytest.raises(RenditionError) as caught:
        workflow.submit(session, editor, post)
    assert caught.value.field == "master_text"
    workflow.update_post(session, editor, post, texts={"x": SHORT})
    workflow.submit(session, editor, post)
    workflow.approve(session, approver, post)
    assert post.status == PostStatus.APPROVED
    assert workflow.get_variants(session, editor, post) == {"x": {0: SHORT}}


def test_alternatives_are_stored_in_order_without_empty_ones(
    session: Session, people: tuple[User, User, Campaign]
) -> None:
    editor, _, campaign = people
    post = _draft(
        session,
        editor,
        campaign,
        texts={"x": SHORT},
        variants={"x": ["Satu juta UMKM go digital.", "", "  UMKM naik kelas.  "]},
    )
    assert variants.load(session, post.id) == {
        "x": {0: SHORT, 1: "Satu juta UMKM go digital.", 2: "UMKM naik kelas."}
    }
    # texts is merged per platform, variants replaces the named platform's alternatives
    workflow.update_post(session, editor, post, variants={"x": ["UMKM naik kelas."]})
    assert variants.load(session, post.id) == {"x": {0: SHORT, 1: "UMKM naik kelas."}}
    workflow.update_post(session, editor, post, texts={"x": None}, variants={"x": []})
    assert variants.load(session, post.id) == {}
    assert session.exec(select(PostVariant)).all() == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"texts": {"x": LONG}}, "text_x", r"The own X text is \d+ characters; the limit is 280"),
        (
            {"texts": {"x": SHORT}, "variants": {"x": ["Pendek.", LONG]}},
            "variant_x_2",
            r"X alternative 2 is \d+ characters; the limit is 280",
        ),
        (
            {
                "platforms": ["instagram"],
                "image_path": "a.jpg",
                "variants": {"instagram": ["Pendek.", " ".join(f"#t{n}" for n in range(31))]},
            },
            "variant_instagram_2",
            "Instagram allows at most 30 hashtags; alternative 2 has 33",
        ),
    ],
)
def test_every_text_is_checked_against_its_platforms_limit(
    session: Session,
    people: tuple[User, User, Campaign],
    fields: dict[str, object],
    field: str,
    message: str,
) -> None:
    editor, _, campaign = people
    post = _draft(session, editor, campaign, **fields)
    with pytest.raises(RenditionError, match=message) as caught:
        workflow.submit(session, editor, post)
    assert caught.value.field == field
    assert post.status == PostStatus.DRAFT


def test_x_alternatives_are_measured_by_weighted_length(
    session: Session, people: tuple[User, User, Campaign]
) -> None:
    editor, _, campaign = people
    # 130 CJK characters weigh 260 on X but are 130 characters long.
    wide = "中" * 130
    post = _draft(session, editor, campaign, texts={"x": SHORT}, variants={"x": [wide]})
    found = preview(
        post, kind=campaign.kind, disclosure_tag="#ASNBerbagi", variants={"x": {0: SHORT, 1: wide}}
    )
    x_texts = [r for r in found if r.platform == "x"]
    assert [r.position for r in x_texts] == [0, 1]
    assert x_texts[1].length == x_weighted_length(x_texts[1].text) > 280
    assert x_texts[1].field == "variant_x_1"
    with pytest.raises(RenditionError) as caught:
        workflow.submit(session, editor, post)
    assert caught.value.field == "variant_x_1"


def test_every_variant_keeps_the_link_hashtags_and_disclosure_tag(
    session: Session, people: tuple[User, User, Campaign]
) -> None:
    editor, _, campaign = people
    post = _draft(session, editor, campaign, texts={"x": SHORT}, variants={"x": ["Lain."]})
    for rendition in preview(
        post,
        kind=campaign.kind,
        disclosure_tag="#ASNBerbagi",
        variants=variants.load(session, post.id),
    ):
        assert "/r/" in rendition.text
        assert "#UMKMGoDigital" in rendition.text
        assert "#ASNBerbagi" in rendition.text


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"variants": {"x": [f"Teks {n}." for n in range(6)]}}, "variant_x_6"),
        ({"variants": {"x": ["Sama.", "sama."]}}, "variant_x_2"),
        ({"variants": {"x": [LONG]}}, "variant_x_1"),  # repeats the master text
        ({"variants": {"tiktok": ["Halo."]}}, "variants"),
        ({"texts": {"x": "a\x00b"}}, "text_x"),
    ],
)
def test_bad_variants_are_refused_before_anything_is_saved(
    session: Session,
    people: tuple[User, User, Campaign],
    fields: dict[str, object],
    field: str,
) -> None:
    editor, _, campaign = people
    with pytest.raises(GaungError) as caught:
        _draft(session, editor, campaign, **fields)
    assert caught.value.field == field
    session.rollback()
    assert session.exec(select(Post)).all() == []


def test_no_variant_changes_once_submitted_or_approved(
    session: Session, people: tuple[User, User, Campaign]
) -> None:
    editor, approver, campaign = people
    post = _draft(session, editor, campaign, texts={"x": SHORT})
    workflow.submit(session, editor, post)
    with pytest.raises(GaungError, match="Only a draft"):
        workflow.update_post(session, editor, post, variants={"x": ["Baru."]})
    workflow.approve(session, approver, post)
    with pytest.raises(GaungError, match="Only a draft"):
        workflow.update_post(session, editor, post, texts={"x": "Baru."})
    assert variants.load(session, post.id) == {"x": {0: SHORT}}


def test_deleting_a_draft_deletes_its_variants(
    session: Session, people: tuple[User, User, Campaign]
) -> None:
    editor, _, campaign = people
    post = _draft(session, editor, campaign, texts={"x": SHORT}, variants={"x": ["Lain."]})
    workflow.delete_post(session, editor, post)
    assert session.exec(select(PostVariant)).all() == []
    other = _draft(session, editor, campaign, variants={"facebook": ["Lain."]})
    assert other.id is not None
    workflow.delete_campaign(session, editor, campaign)
    assert session.exec(select(PostVariant)).all() == []
