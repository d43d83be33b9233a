"""Uploaded images are decoded off the event loop.

Decoding, checking and re-encoding an image (content.media) takes tens of milliseconds of
CPU for a phone photo; on the event loop that would stall every other request of the
worker, tracking redirects included. Every page and API that takes an image calls this.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from content import media
from gaung.settings import get_settings


async def store_image(data: bytes) -> str:
    """content.media.save_image in a worker thread; its GaungError names the problem."""
    return await run_in_threadpool(media.save_image, data, get_settings().media_dir)
