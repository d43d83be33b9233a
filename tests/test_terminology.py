"""One Indonesian word per thing: the catalog never mixes "surel" with "email", "repost"
with "unggahan ulang", and so on. Placeholders (%(email)s) are names, not words."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from gaung.settings import PROJECT_ROOT

# Forbidden variant → the word the UI uses for that thing.
TERMS = {
    r"e-mail|email": "surel",
    r"unggahan ulang": "repost (the noun; the verb stays 'unggah ulang')",
    r"postingan": "unggahan",
    r"tugas": "penugasan",
    r"masukan": "tanggapan (feedback from the public: 'tanggapan masyarakat')",
    r"batas waktu": "tenggat",
    r"dashboard": "dasbor",
}
_PLACEHOLDER = re.compile(r"%\([^)]*\)[sd]|\{[^}]*\}")


def _forbidden(pattern: str) -> re.Pattern[str]:
    # Not part of an address or a longer word (e-mail@…, tugasnya is its own word).
    return re.compile(rf"(?<![\w@.-])(?:{pattern})(?![\w@-])", re.IGNORECASE)


def misused(text: str) -> list[tuple[str, str]]:
    """(variant found, the word to use) in one msgstr."""
    words = _PLACEHOLDER.sub(" ", text)
    return [
        (found.group(0), preferred)
        for pattern, preferred in TERMS.items()
        for found in _forbidden(pattern).finditer(words)
    ]


def test_indonesian_msgstrs_use_one_word_per_thing() -> None:
    with (PROJECT_ROOT / "locale/id/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    problems: dict[str, list[tuple[str, str]]] = {}
    for message in catalog:
        string = message.string
        strings = [string] if isinstance(string, str) else list(string or ())
        for text in strings:
            if text and (found := misused(str(text))):
                problems[str(text)] = found
    assert not problems, f"use the catalog's words: {problems}"


@pytest.mark.parametrize(
    ("text", "variant"),
    [
        ("Alamat email ini tidak sah.", "email"),
        ("Kirim lewat E-mail", "E-mail"),
        ("Tautan unggahan ulang Anda", "unggahan ulang"),
        ("Buka dashboard", "dashboard"),
        ("Masukan dari publik: 2 baru", "Masukan"),
    ],
)
def test_a_forbidden_variant_is_caught(text: str, variant: str) -> None:
    assert [found for found, _word in misused(text)] == [variant]


@pytest.mark.parametrize(
    "text",
    [
        "Akun SSO %(email)s bukan akun staf aktif.",
        "Alamat surel ini tidak sah.",
        "Mohon unggah ulang dari akun Anda sendiri; laporkan tautan repost Anda.",
        "Masukkan tautan repost Anda.",  # "masukkan" (enter) is another word
        "Penugasan baru, tenggat besok, dasbor.",
        "Kirim ke gaung@email.example",
    ],
)
def test_the_chosen_words_and_placeholders_pass(text: str) -> None:
    assert misused(text) == []
