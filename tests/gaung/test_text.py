"""Free text: control characters are refused by name of the field, never stored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaung.errors import GaungError
from gaung.text import clean_text


@given(st.text(alphabet=st.characters(exclude_categories=["Cc"]) | st.sampled_from("\t\n\r")))
def test_printable_text_comes_back_stripped(value: str) -> None:
    assert clean_text(value, "text") == value.strip()


@pytest.mark.parametrize("bad", ["a\x00b", "\x07", "x\x1by", "del\x7f"])
def test_control_characters_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(GaungError) as caught:
        clean_text(bad, "reason")
    assert caught.value.field == "reason"
