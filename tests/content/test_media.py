"""Uploaded images: sniffed by content, limited, re-encoded without metadata."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from content.media import MAX_BYTES, save_image
from gaung.errors import GaungError

GPS_IFD = 0x8825
ARTIST = 0x013B
ORIENTATION = 0x0112


def _image_bytes(fmt: str, size: tuple[int, int] = (40, 20), *, orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ARTIST] = "Nama Pegawai"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD)[2] = (6.0, 10.0, 30.0)  # latitude
    buffer = BytesIO()
    image.save(buffer, format=fmt, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "suffix"), [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp")])
def test_exif_is_dropped_and_the_format_kept(tmp_path: Path, fmt: str, suffix: str) -> None:
    data = _image_bytes(fmt)
    with Image.open(BytesIO(data)) as original:
        assert original.getexif()[ARTIST] == "Nama Pegawai"  # the fixture really has EXIF

    name = save_image(data, tmp_path / "media")

    assert name.endswith(suffix)
    assert "/" not in name
    stored = (tmp_path / "media" / name).read_bytes()
    assert b"Nama Pegawai" not in stored
    with Image.open(BytesIO(stored)) as saved:
        assert saved.format == fmt
        assert dict(saved.getexif()) == {}
        assert saved.size == (40, 20)


def test_orientation_is_applied_before_exif_is_dropped(tmp_path: Path) -> None:
    name = save_image(_image_bytes("JPEG", (40, 20), orientation=6), tmp_path)
    with Image.open(tmp_path / name) as saved:
        assert saved.size == (20, 40)


def test_names_are_random(tmp_path: Path) -> None:
    data = _image_bytes("PNG")
    assert save_image(data, tmp_path) != save_image(data, tmp_path)


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is text",
        b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",
        b"",
    ],
)
def test_non_images_are_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(GaungError, match="not a JPEG, PNG or WebP image") as caught:
        save_image(data, tmp_path)
    assert caught.value.field == "image"
    assert list(tmp_path.iterdir()) == []


def test_other_image_formats_are_refused(tmp_path: Path) -> None:
    buffer = BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="GIF")
    with pytest.raises(GaungError, match="not a JPEG, PNG or WebP image"):
        save_image(buffer.getvalue(), tmp_path)


def test_a_truncated_image_is_refused(tmp_path: Path) -> None:
    image = Image.effect_noise((300, 300), 50).convert("RGB")
    buffer = BytesIO()
    image.save(buffer, format="JPEG")
    data = buffer.getvalue()
    with pytest.raises(GaungError, match="damaged"):
        save_image(data[: len(data) // 2], tmp_path)


def test_files_over_8_mb_are_refused_with_the_limit(tmp_path: Path) -> None:
    with pytest.raises(GaungError) as caught:
        save_image(_image_bytes("PNG") + b"\0" * MAX_BYTES, tmp_path)
    assert caught.value.params["limit"] == 8
    assert "the limit is 8 MB" in str(caught.value)


def test_images_over_40_megapixels_are_refused_before_decoding(tmp_path: Path) -> None:
    buffer = BytesIO()
    Image.new("1", (7000, 6000)).save(buffer, format="PNG")  # 42 MP, a few kB on disk
    with pytest.raises(GaungError) as caught:
        save_image(buffer.getvalue(), tmp_path)
    assert caught.value.params == {"actual": 42.0, "limit": 40}


def test_decompression_bombs_are_refused(tmp_path: Path) -> None:
    buffer = BytesIO()
    Image.new("1", (20000, 10000)).save(buffer, format="PNG")  # 200 MP
    with pytest.raises(GaungError, match="more than 40 megapixels"):
        save_image(buffer.getvalue(), tmp_path)
