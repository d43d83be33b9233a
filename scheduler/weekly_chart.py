"""The weekly report's chart: one stacked bar per campaign, as a PNG drawn with Pillow.

A mail client runs no script and many block remote images, so the chart travels inside the
mail (scheduler.weekly_report attaches it inline). Pillow is already a dependency (media
uploads) and a handful of bars and labels need no plotting library. The bars split each
campaign's assignments the way the dashboard's verification chart does: verified, reported
but not verified, rejected by verification, and the rest (pending, declined, expired,
withdrawn). Each campaign's title sits above its bar, so the chart stays narrow enough to
read on a phone; it is drawn at twice the size it is shown, so it stays sharp there too.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from assignments.reach import ReachFigures
from gaung.i18n import gettext as _

SCALE = 2
WIDTH = 480  # as shown (CSS pixels); the image is SCALE times that
PAD, TITLE, BAR, GAP, LEGEND_ROW, TEXT = 12, 20, 18, 12, 22, 14
ROW = TITLE + BAR + GAP
MAX_BARS = 10
INK = "#1c1f24"
COLOURS = {
    "verified": "#17703a",
    "unverified": "#1f5fa8",
    "rejected": "#b3261e",
    "open": "#c5cad1",
}


def segments(figures: ReachFigures) -> list[tuple[str, int, str]]:
    """(colour key, count, legend) of a campaign's assignments, summing to all of them."""
    return [
        ("verified", figures.verified, _("Verified")),
        ("unverified", figures.reported - figures.verified, _("Reported, not verified")),
        ("rejected", figures.rejected, _("Rejected by verification")),
        (
            "open",
            figures.assignments - figures.reported - figures.rejected,
            _("Pending, declined, expired or withdrawn"),
        ),
    ]


def _fit(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _legend_layout(
    draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> list[tuple[int, int, str, str]]:
    """(x, row, colour key, text) of each legend entry, wrapped to the chart's width."""
    placed: list[tuple[int, int, str, str]] = []
    x, row = PAD, 0
    for key, _count, legend in segments(ReachFigures()):
        size = int(draw.textlength(legend, font=font) / SCALE) + 28
        if x + size > WIDTH - PAD and x > PAD:
            x, row = PAD, row + 1
        placed.append((x, row, key, legend))
        x += size + 12
    return placed


def chart_png(bars: list[tuple[str, ReachFigures]]) -> bytes:
    """PNG of the MAX_BARS (title, figures) with the most assignments, and a legend."""
    shown = sorted((bar for bar in bars if bar[1].assignments), key=lambda b: -b[1].assignments)
    shown = shown[:MAX_BARS]
    s = SCALE
    font = ImageFont.load_default(size=TEXT * s)
    legend = _legend_layout(ImageDraw.Draw(Image.new("RGB", (1, 1))), font)
    top = PAD + max(len(shown), 1) * ROW  # where the legend begins
    height = top + (legend[-1][1] + 1) * LEGEND_ROW + PAD
    image = Image.new("RGB", (WIDTH * s, height * s), "white")
    draw = ImageDraw.Draw(image)
    inner = WIDTH - 2 * PAD
    for index, (title, figures) in enumerate(shown):
        y = PAD + index * ROW
        draw.text((PAD * s, y * s), _fit(draw, title, font, inner * s), fill=INK, font=font)
        y += TITLE
        x = float(PAD)
        for key, count, _text in segments(figures):
            if count <= 0:
                continue
            width = count / figures.assignments * inner
            draw.rectangle((x * s, y * s, (x + width) * s - 1, (y + BAR) * s), fill=COLOURS[key])
            x += width
    if not shown:
        draw.text((PAD * s, PAD * s), _("No assignments this week."), fill=INK, font=font)
    for x, row, key, text in legend:
        y = top + row * LEGEND_ROW
        draw.rectangle((x * s, (y + 2) * s, (x + 14) * s, (y + 16) * s), fill=COLOURS[key])
        draw.text(((x + 20) * s, (y + 1) * s), text, fill=INK, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
