"""Uploaded post images: checked by content (not by name), re-encoded, stored under a random name.

Re-encoding drops EXIF (camera, GPS position, author) and anything hidden after the
image data; the EXIF orientation is applied first so the picture still looks upright.
"""

from __future__ import annotations

import secrets
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from gaung.errors import GaungError

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Pillow format name -> file extension.
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow's bomb warning is noise: our own pixel limit, checked next, is lower.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
    except Image.DecompressionBombError:
        raise GaungError(
            "The image has more than %(limit)s megapixels.",
            field="image",
            limit=MAX_PIXELS // 1_000_000,
        ) from None
    except UnidentifiedImageError:
        raise GaungError("The file is not a JPEG, PNG or WebP image.", field="image") from None
    if image.format not in FORMATS:
        raise GaungError("The file is not a JPEG, PNG or WebP image.", field="image")
    return image


def _check_pixels(image: Image.Image) -> None:
    # Checked from the header, before decoding, so a decompression bomb never expands.
    pixels = image.width * image.height
    if pixels > MAX_PIXELS:
        raise GaungError(
            "The image has %(actual)s megapixels; the limit is %(limit)s.",
            field="image",
            actual=round(pixels / 1_000_000, 1),
            limit=MAX_PIXELS // 1_000_000,
        )


def _clean(image: Image.Image) -> Image.Image:
    """Pixels only: orientation applied, metadata gone, a mode the format can store."""
    try:
        upright = ImageOps.exif_transpose(image) or image
        upright.load()
    except (OSError, SyntaxError, ValueError):
        raise GaungError("The image file is damaged.", field="image") from None
    clean = upright.copy()
    clean.info = {}
    if image.format == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    return clean


def _encode(image: Image.Image, fmt: str, icc_profile: bytes | None) -> bytes:
    options: dict[str, Any] = {"format": fmt}
    if icc_profile:
        options["icc_profile"] = icc_profile  # colour fidelity; says nothing about the person
    if fmt == "JPEG":
        options.update(quality=90, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=90)
    buffer = BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def save_image(data: bytes, media_dir: Path) -> str:
    """Store an uploaded image and return its file name relative to ``media_dir``."""
    if len(data) > MAX_BYTES:
        raise GaungError(
            "The image is %(actual)s MB; the limit is %(limit)s MB.",
            field="image",
            actual=round(len(data) / (1024 * 1024), 1),
            limit=MAX_BYTES // (1024 * 1024),
        )
    image = _open(data)
    fmt = str(image.format)
    _check_pixels(image)
    icc_profile = image.info.get("icc_profile")
    encoded = _encode(_clean(image), fmt, icc_profile)
    media_dir.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}{FORMATS[fmt]}"
    (media_dir / name).write_bytes(encoded)
    return name
