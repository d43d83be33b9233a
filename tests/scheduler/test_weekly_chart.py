"""The weekly report's chart: a PNG sized for a phone, one bar per campaign up to a limit."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from assignments.reach import ReachFigures
from scheduler.weekly_chart import COLOURS, MAX_BARS, SCALE, WIDTH, chart_png, segments


def _image(bars: list[tuple[str, ReachFigures]]) -> Image.Image:
    return Image.open(io.BytesIO(chart_png(bars))).convert("RGB")


def _figures(verified: int, unverified: int, rejected: int, rest: int) -> ReachFigures:
    reported = verified + unverified
    return ReachFigures(
        assignments=reported + rejected + rest,
        reported=reported,
        verified=verified,
        rejected=rejected,
    )


counts = st.integers(min_value=0, max_value=10_000)


@given(counts, counts, counts, counts)
def test_the_segments_add_up_to_every_assignment(
    verified: int, unverified: int, rejected: int, rest: int
) -> None:
    figures = _figures(verified, unverified, rejected, rest)

    parts = segments(figures)

    assert [count for _key, count, _label in parts] == [verified, unverified, rejected, rest]
    assert sum(count for _key, count, _label in parts) == figures.assignments


def test_a_campaign_all_verified_is_one_green_bar_on_a_phone_sized_image() -> None:
    image = _image([("Kampanye", _figures(5, 0, 0, 0))])

    assert image.width == WIDTH * SCALE
    green = tuple(int(COLOURS["verified"][i : i + 2], 16) for i in (1, 3, 5))
    grey = tuple(int(COLOURS["open"][i : i + 2], 16) for i in (1, 3, 5))
    colours = {colour for _count, colour in image.getcolors(maxcolors=1 << 16) or []}
    assert green in colours
    assert grey in colours  # the legend's swatch, not the bar
    middle_row = [image.getpixel((x, 41 * SCALE)) for x in range(30 * SCALE, 450 * SCALE, 40)]
    assert set(middle_row) == {green}


def test_more_campaigns_than_fit_show_the_biggest_and_campaigns_without_assignments_none() -> None:
    many = [(f"K{n}", _figures(n, 1, 0, 1)) for n in range(MAX_BARS + 5)]
    empty = [("Kosong", ReachFigures())]

    tall = _image(many).height
    assert tall == _image(many[-MAX_BARS:]).height
    assert _image(many[:2]).height < tall
    assert _image(many[:1] + empty).height == _image(many[:1]).height
