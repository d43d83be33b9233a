"""Images are decoded in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from content import media
from web.uploads import store_image


def _png() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (40, 30), "navy").save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_is_decoded_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gaung.settings import get_settings

    monkeypatch.setattr(get_settings(), "media_dir", tmp_path)
    seen: list[bool] = []
    real = media.save_image

    def watched(data: bytes, media_dir: Path) -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen.append(False)  # no loop in this thread: a worker thread
        else:
            seen.append(True)
        return real(data, media_dir)

    monkeypatch.setattr(media, "save_image", watched)
    name = asyncio.run(store_image(_png()))
    assert seen == [False]
    assert (tmp_path / name).exists()
