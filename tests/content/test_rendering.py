"""Per-platform rendering, X weighting, limits and validation (no database needed)."""

from __future__ import annotations

import string
from typing import TypedDict, Unpack

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from content import x_weighted_length
from content.models import CampaignKind, Post
from content.rendering import (
    SAMPLE_TRACKING_CODE,
    TRACKING_PLACEHOLDER,
    RenditionError,
    check_link,
    count_hashtags,
    disclosure_tag_for,
    environment,
    fill_tracking_url,
    measure,
    preview,
    render,
    sample_tracking_url,
    validate,
)
from gaung.i18n import use_locale
from gaung.settings import get_settings
from kernel.limits import LIMITS
from roster.models import Agency

TAG = "#InfoResmiASN"
LINK = "https://www.kominfo.go.id/berita/umkm-digital"
TEXT = "Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha."
PLATFORMS = ["x", "facebook", "instagram"]

domains = st.builds(
    "{}.{}".format,
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20),
    st.sampled_from(["com", "id", "go.id", "org", "net", "co.id"]),
)
# Personal codes as the dispatcher makes them: secrets.token_urlsafe(9), 12 characters.
codes = st.text(string.ascii_letters + string.digits + "-_", min_size=12, max_size=12)
latin = st.text(string.ascii_letters + " ", max_size=100)


class PostFields(TypedDict, total=False):
    """The columns of a ``Post`` a test may override."""

    master_text: str
    link: str | None
    hashtags: str
    image_path: str | None
    platforms: str


def make(**fields: Unpack[PostFields]) -> Post:
    values: PostFields = {
        "master_text": TEXT,
        "link": LINK,
        "hashtags": "UMKMGoDigital Indonesia",
        "image_path": "abc.jpg",
    }
    values.update(fields)
    return Post(campaign_id=1, author_id=1, **values)


def render_all(post: Post, *, kind: str = CampaignKind.PROGRAM, url: str | None) -> dict[str, str]:
    return {p: render(post, p, kind=kind, disclosure_tag=TAG, tracking_url=url) for p in PLATFORMS}


# --- X weighted length ------------------------------------------------------------------


@given(domain=domains, path=st.text(string.ascii_letters + string.digits, max_size=40))
def test_any_url_weighs_23_on_x(domain: str, path: str) -> None:
    url = f"https://{domain}/{path}"
    assert x_weighted_length(url) == 23
    assert x_weighted_length(f"cek {url}") == 27


@given(text=latin, char=st.integers(0x4E00, 0x9FFF).map(chr))
def test_appending_a_cjk_character_adds_two(text: str, char: str) -> None:
    assert x_weighted_length(text + char) == x_weighted_length(text) + 2


@given(text=latin)
def test_a_zwj_emoji_family_weighs_two(text: str) -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    assert x_weighted_length(text + family) == x_weighted_length(text) + 2


@given(text=latin)
def test_latin_letters_weigh_one_each(text: str) -> None:
    assert x_weighted_length(text) == len(text)


@given(text=st.text())
def test_weighted_length_is_never_negative(text: str) -> None:
    assert x_weighted_length(text) >= 0


def test_measure_weighs_x_and_counts_characters_elsewhere() -> None:
    text = "中文 " + LINK
    assert measure("x", text) == 2 + 2 + 1 + 23
    assert measure("facebook", text) == len(text)
    assert measure("instagram", text) == len(text)
    with pytest.raises(RenditionError, match="tiktok"):
        measure("tiktok", text)


# --- templates --------------------------------------------------------------------------


def test_every_platform_carries_the_same_master_text_tags_and_link() -> None:
    renditions = render_all(make(), url="https://gaung.kominfo.go.id/r/abcdefabcdef")
    for text in renditions.values():
        assert text.startswith(TEXT)
        assert "https://gaung.kominfo.go.id/r/abcdefabcdef" in text
        assert LINK not in text  # the tracking URL stands in for the link
        assert text.endswith(f"#UMKMGoDigital #Indonesia {TAG}")


def test_platform_layouts() -> None:
    url = "https://gaung.kominfo.go.id/r/abcdefabcdef"
    renditions = render_all(make(), url=url)
    assert renditions["x"] == f"{TEXT} {url}\n\n#UMKMGoDigital #Indonesia {TAG}"
    assert renditions["facebook"] == f"{TEXT}\n\n{url}\n\n#UMKMGoDigital #Indonesia {TAG}"
    assert url in renditions["facebook"].splitlines()  # the link on its own line
    assert f"Selengkapnya: {url}" in renditions["instagram"].splitlines()


def test_without_tracking_url_the_post_link_is_shown() -> None:
    for text in render_all(make(), url=None).values():
        assert LINK in text


def test_a_post_without_link_or_hashtags_is_just_text_and_disclosure_tag() -> None:
    post = make(link=None, hashtags="")
    for text in render_all(post, url=TRACKING_PLACEHOLDER).values():
        assert text == f"{TEXT}\n\n{TAG}"


def test_master_text_line_breaks_are_kept_verbatim() -> None:
    master = "Baris satu.\n\n\nBaris dua,  dengan  spasi."
    for text in render_all(make(master_text=master), url=None).values():
        assert text.startswith(master)


def test_hoax_clarification_leads_with_a_marker() -> None:
    kind = CampaignKind.HOAX_CLARIFICATION
    for text in render_all(make(), kind=kind, url=None).values():
        assert text.startswith(f"[KLARIFIKASI HOAKS] {TEXT}")
    for text in render_all(make(), url=None).values():
        assert "KLARIFIKASI" not in text


def test_disclosure_tag_is_not_repeated_when_also_a_hashtag() -> None:
    post = make(hashtags="infoResmiASN UMKM")
    for text in render_all(post, url=None).values():
        assert text.casefold().count(TAG.casefold()) == 1
        assert "#UMKM" in text


def test_template_variables_are_strict() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment().get_template("x.j2").render(text="halo", url=None)


def test_template_output_is_not_html_escaped() -> None:
    post = make(master_text='Tarif <5% & "gratis" untuk UMKM')
    for text in render_all(post, url=None).values():
        assert text.startswith('Tarif <5% & "gratis" untuk UMKM')


def test_template_syntax_in_post_text_is_not_evaluated() -> None:
    post = make(master_text="{{ 7 * 7 }} {% if 1 %}x{% endif %}")
    for text in render_all(post, url=None).values():
        assert text.startswith("{{ 7 * 7 }} {% if 1 %}x{% endif %}")


# --- tracking placeholder ---------------------------------------------------------------


@given(domain=domains, code=codes)
def test_filling_the_placeholder_equals_rendering_with_the_url(domain: str, code: str) -> None:
    url = f"https://{domain}/r/{code}"
    post = make(master_text="Klarifikasi: kabar itu tidak benar. 中文 \U0001f44d")
    direct = render_all(post, url=url)
    for platform, text in render_all(post, url=TRACKING_PLACEHOLDER).items():
        filled = fill_tracking_url(text, url)
        assert filled == direct[platform]
        assert TRACKING_PLACEHOLDER not in filled
        if platform == "x":  # any URL weighs 23, so the placeholder's weight holds
            assert measure(platform, filled) == measure(platform, text)


@given(code=codes)
def test_validated_length_holds_for_every_personal_code(code: str) -> None:
    post = make()
    base = get_settings().base_url.rstrip("/")
    for rendition in preview(post, kind=CampaignKind.PROGRAM, disclosure_tag=TAG):
        template = render(
            post,
            rendition.platform,
            kind=CampaignKind.PROGRAM,
            disclosure_tag=TAG,
            tracking_url=TRACKING_PLACEHOLDER,
        )
        filled = fill_tracking_url(template, f"{base}/r/{code}")
        assert measure(rendition.platform, filled) == rendition.length


def test_sample_tracking_url_uses_the_base_url() -> None:
    assert sample_tracking_url() == f"{get_settings().base_url}/r/{SAMPLE_TRACKING_CODE}"


# --- validation -------------------------------------------------------------------------


def test_a_valid_post_passes_and_previews_without_errors() -> None:
    post = make()
    validate(post, kind=CampaignKind.PROGRAM, disclosure_tag=TAG)
    renditions = preview(post, kind=CampaignKind.PROGRAM, disclosure_tag=TAG)
    assert [r.platform for r in renditions] == PLATFORMS
    for r in renditions:
        assert r.error is None
        assert r.limit == LIMITS[r.platform].max_chars
        assert r.length == measure(r.platform, r.text)
        assert sample_tracking_url() in r.text


def test_over_length_x_rendition_is_refused_with_the_figure() -> None:
    post = make(master_text="a" * 250)
    with pytest.raises(RenditionError) as caught:
        validate(post, kind=CampaignKind.PROGRAM, disclosure_tag=TAG)
    x_text = render(
        post, "x", kind=CampaignKind.PROGRAM, disclosure_tag=TAG, tracking_url=sample_tracking_url()
    )
    actual = x_weighted_length(x_text)
    assert actual > 280
    assert caught.value.params == {"platform": "X", "limit": 280, "actual": actual}
    assert str(caught.value) == f"X text is {actual} characters; the limit is 280."
    # Facebook and Instagram have room for it.
    errors = {r.platform: r.error for r in preview(post, kind="program", disclosure_tag=TAG)}
    assert errors["facebook"] is None
    assert errors["instagram"] is None
    assert errors["x"] is not None
    assert str(actual) in errors["x"]


def test_hoax_marker_counts_towards_the_x_limit() -> None:
    post = make(master_text="a" * 270, link=None, hashtags="", platforms="x")
    validate(post, kind=CampaignKind.PROGRAM, disclosure_tag="")
    with pytest.raises(RenditionError) as caught:
        validate(post, kind=CampaignKind.HOAX_CLARIFICATION, disclosure_tag="")
    assert caught.value.params["actual"] == len("[KLARIFIKASI HOAKS] ") + 270


def test_cjk_text_reaches_the_x_limit_at_half_the_characters() -> None:
    post = make(master_text="中" * 130, link=None, hashtags="", platforms="x")
    validate(post, kind=CampaignKind.PROGRAM, disclosure_tag="")
    post.master_text = "中" * 141
    with pytest.raises(RenditionError, match="the limit is 280"):
        validate(post, kind=CampaignKind.PROGRAM, disclosure_tag="")


def test_instagram_needs_an_image() -> None:
    post = make(image_path=None)
    with pytest.raises(RenditionError, match="Instagram needs an image") as caught:
        validate(post, kind=CampaignKind.PROGRAM, disclosure_tag=TAG)
    assert caught.value.field == "image"
    validate(make(image_path=None, platforms="x,facebook"), kind="program", disclosure_tag=TAG)


def test_instagram_allows_at_most_30_hashtags_including_the_disclosure_tag() -> None:
    tags = " ".join(f"Tag{i}" for i in range(29))
    validate(make(hashtags=tags, platforms="instagram"), kind="program", disclosure_tag=TAG)
    post = make(hashtags=tags + " Tag29", platforms="instagram")
    with pytest.raises(RenditionError) as caught:
        validate(post, kind="program", disclosure_tag=TAG)
    assert caught.value.params == {"platform": "Instagram", "limit": 30, "actual": 31}


def test_hashtags_inside_the_master_text_count_too() -> None:
    text = " ".join(f"#kata{i}" for i in range(31))
    post = make(master_text=text, hashtags="", platforms="instagram")
    with pytest.raises(RenditionError, match="at most 30 hashtags"):
        validate(post, kind="program", disclosure_tag="")


def test_url_fragments_are_not_hashtags() -> None:
    assert count_hashtags("https://a.go.id/page#bagian https://a.go.id/#atas #Satu") == 1


@pytest.mark.parametrize(
    "link",
    [
        "ftp://kominfo.go.id/file",
        "https://",
        "kominfo.go.id/berita",
        "http://[",
        "https://kominfo go.id",
        "javascript:alert(1)",
    ],
)
def test_malformed_links_are_refused(link: str) -> None:
    with pytest.raises(RenditionError) as caught:
        validate(make(link=link), kind="program", disclosure_tag=TAG)
    assert caught.value.field == "link"


@given(link=st.text(max_size=60))
def test_check_link_accepts_only_http_addresses_with_a_host(link: str) -> None:
    try:
        check_link(link)
    except RenditionError:
        return
    assert link.startswith(("http://", "https://"))
    assert len(link.split("://", 1)[1]) > 0


def test_unknown_platform_is_refused() -> None:
    post = make(platforms="x,tiktok")
    with pytest.raises(RenditionError, match="Unknown platform: tiktok"):
        validate(post, kind="program", disclosure_tag=TAG)
    with use_locale("en"):
        renditions = preview(post, kind="program", disclosure_tag=TAG)
    assert renditions[1].platform == "tiktok"
    assert renditions[1].error == "Unknown platform: tiktok."
    with use_locale("id"):  # the preview speaks the reader's language
        assert preview(post, kind="program", disclosure_tag=TAG)[1].error == (
            "Platform tidak dikenal: tiktok."
        )


def test_a_post_without_platforms_is_refused() -> None:
    with pytest.raises(RenditionError, match="at least one platform"):
        validate(make(platforms=""), kind="program", disclosure_tag=TAG)


def test_disclosure_tag_comes_from_the_agency_or_the_settings() -> None:
    assert disclosure_tag_for(Agency(slug="a", name="A", disclosure_tag="#ResmiKominfo")) == (
        "#ResmiKominfo"
    )
    assert disclosure_tag_for(Agency(slug="b", name="B")) == get_settings().disclosure_tag
