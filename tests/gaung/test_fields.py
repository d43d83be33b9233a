"""The field rules: phone and e-mail as stored, social handles, and the NIP's structure."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaung.errors import GaungError
from gaung.fields import (
    NipError,
    check_nip,
    email_key,
    handle_key,
    normalise_email,
    normalise_handle,
    normalise_phone,
    parse_nip,
)

# --- phone -------------------------------------------------------------------------------

# Indonesian mobile prefixes (Telkomsel, Indosat, XL, Tri, Smartfren, Axis) after the 0.
MOBILE_PREFIXES = ("811", "812", "813", "821", "822", "852", "857", "878", "881", "896", "838")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@st.composite
def mobile_numbers(draw: st.DrawFn) -> str:
    """The national significant number of an Indonesian mobile, e.g. 81234567890."""
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    return prefix + draw(st.text(alphabet="0123456789", min_size=7, max_size=9))


@st.composite
def written(draw: st.DrawFn, number: str) -> str:
    """``number`` as people type it: a trunk or country prefix, grouped by separators."""
    lead = draw(st.sampled_from(["0", "62", "+62", "+62 ", "0062", "+62 (0)"]))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=len(number) - 1), max_size=4)))
    groups = [number[a:b] for a, b in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    separators = draw(
        st.lists(
            st.sampled_from([" ", "-", ".", "  ", " - "]), min_size=len(cuts), max_size=len(cuts)
        )
    )
    text = groups[0] + "".join(
        sep + group for sep, group in zip(separators, groups[1:], strict=True)
    )
    if lead == "0" and draw(st.booleans()):
        # "(0812) 3456 7890": the area or operator code in brackets.
        head, _, rest = text.partition(separators[0] if separators else "\0")
        return f"(0{head}) {rest}".strip()
    padding = draw(st.sampled_from(["", " ", "\t"]))
    return f"{padding}{lead}{text}{padding}"


@pytest.mark.parametrize(
    "typed",
    [
        "0812-3456-7890",
        "081234567890",
        "62812 3456 7890",
        "6281234567890",
        "+62 812 3456 7890",
        "+62-812-3456-7890",
        "(0812) 3456 7890",
        "0812.3456.7890",
        "006281234567890",
        " +6281234567890 ",
    ],
)
def test_indonesian_ways_of_writing_a_mobile_give_one_e164(typed: str) -> None:
    assert normalise_phone(typed) == "+6281234567890"


def test_a_foreign_number_keeps_its_country() -> None:
    assert normalise_phone("0044 20 7946 0958") == "+442079460958"
    assert normalise_phone("+1 415 555 2671") == "+14155552671"


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        "0812",
        "081234567890123456",
        "0812-3456-ABCD",  # keypad letters would dial someone else
        "0812 3456 7890 ext 12",
        "08123456789o",
        "tel:+6281234567890",
        "not a number",
        "+",
        "0812\x003456",
    ],
)
def test_an_invalid_number_is_refused_naming_the_phone_field(typed: str) -> None:
    with pytest.raises(GaungError) as raised:
        normalise_phone(typed)
    assert raised.value.field == "phone"
    assert "0812 3456 7890" in raised.value.message


@given(mobile_numbers().flatmap(lambda n: st.tuples(st.just(n), written(n))))
def test_any_formatting_of_a_valid_mobile_gives_the_same_e164(case: tuple[str, str]) -> None:
    number, typed = case
    assert normalise_phone(typed) == f"+62{number}"


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=30), st.text(alphabet="0123456789+-() .", max_size=20)))
def test_a_phone_is_e164_or_refused_and_normalising_twice_changes_nothing(text: str) -> None:
    try:
        phone = normalise_phone(text)
    except GaungError as exc:
        field = exc.field
        assert field == "phone"
    else:
        assert E164.fullmatch(phone)
        assert normalise_phone(phone) == phone


# --- e-mail ------------------------------------------------------------------------------

_local = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_+-]|\.(?=[a-zA-Z0-9])){0,20}", fullmatch=True)
_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_domain = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=3),
    st.sampled_from(["go.id", "co.id", "ac.id", "id", "com", "ORG", "Net"]),
)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", _local, _domain)


def _recase(text: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(text, flips, strict=False))


def test_an_address_is_stored_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Budi.Santoso@Kominfo.GO.ID ") == "budi.santoso@kominfo.go.id"


@pytest.mark.parametrize(
    "typed",
    [
        "not-an-address",
        "budi@",
        "@kominfo.go.id",
        "budi@kominfo",
        "budi santoso@kominfo.go.id",
        "budi..santoso@kominfo.go.id",
        "Budi <budi@kominfo.go.id>",
        "budi@kominfo.go.id\r\nBcc: x@y.id",
        "büdi@kominfo.go.id",  # SMTPUTF8: the mail channel cannot send to it
        "budi@kominfo.test",  # a reserved name no mail reaches
        "b" * 250 + "@kominfo.go.id",
    ],
)
def test_an_invalid_address_is_refused_naming_the_email_field(typed: str) -> None:
    with pytest.raises(GaungError) as raised:
        normalise_email(typed)
    assert raised.value.field == "email"
    assert raised.value.message == "This is not a valid e-mail address."


@given(
    addresses, st.lists(st.booleans(), min_size=60, max_size=60), st.sampled_from(["", " ", "\t"])
)
def test_the_case_of_an_address_never_matters(address: str, flips: list[bool], pad: str) -> None:
    stored = normalise_email(address)
    assert normalise_email(f"{pad}{_recase(address, flips)}{pad}") == stored
    assert stored == email_key(address)  # the look-up form matches the stored one
    assert normalise_email(stored) == stored


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=40), st.emails()))
def test_an_address_is_lower_case_or_refused_and_normalising_twice_changes_nothing(
    text: str,
) -> None:
    try:
        email = normalise_email(text)
    except GaungError as exc:
        field = exc.field
        assert field == "email"
    else:
        assert email == email_key(email)
        assert normalise_email(email) == email


# --- social media handle -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "typed", "handle"),
    [
        ("x", "@Humas_Kota", "humas_kota"),
        ("x", "https://x.com/Humas_Kota", "humas_kota"),
        ("x", "twitter.com/humas_kota/status/1", "humas_kota"),
        ("instagram", "instagram.com/budi.asn/", "budi.asn"),
        ("facebook", "https://www.facebook.com/budi.santoso.7", "budi.santoso.7"),
        ("facebook", "https://m.facebook.com/profile.php?id=100012345678", "100012345678"),
    ],
)
def test_handles_are_taken_from_what_people_paste(platform: str, typed: str, handle: str) -> None:
    assert normalise_handle(platform, typed) == handle


def test_a_bad_handle_names_the_platform_and_its_field() -> None:
    with pytest.raises(GaungError) as raised:
        normalise_handle("x", "far too long for an x handle")
    assert (raised.value.field, raised.value.params) == ("x_handle", {"platform": "X"})


@pytest.mark.parametrize("typed", ["https://[x", "x.com/[::1/", "http://]/humas"])
def test_a_link_that_is_no_url_is_refused_as_a_bad_handle(typed: str) -> None:
    with pytest.raises(GaungError) as raised:
        normalise_handle("x", typed)
    assert raised.value.field == "x_handle"


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=40))
def test_a_normalised_handle_always_fits_the_platform_pattern(text: str) -> None:
    for platform in ("x", "instagram", "facebook"):
        try:
            handle = normalise_handle(platform, text)
        except GaungError as exc:
            field = exc.field
            assert field == f"{platform}_handle"
        else:
            assert handle == handle.lower()
            assert "@" not in handle
            assert "/" not in handle
            assert normalise_handle(platform, handle) == handle
            assert handle_key(handle) == handle  # a look-up finds what was stored


# --- NIP ---------------------------------------------------------------------------------

TODAY = date(2026, 11, 23)


@st.composite
def valid_nips(draw: st.DrawFn) -> tuple[str, date, tuple[int, int], int, int]:
    birth = draw(st.dates(min_value=date(1950, 1, 1), max_value=date(2007, 1, 1)))
    year = draw(st.integers(min_value=birth.year + 18, max_value=2026))
    month = draw(st.integers(min_value=1, max_value=12 if year < 2026 else 11))
    sex = draw(st.sampled_from([1, 2]))
    sequence = draw(st.integers(min_value=1, max_value=999))
    number = f"{birth:%Y%m%d}{year:04d}{month:02d}{sex}{sequence:03d}"
    return number, birth, (year, month), sex, sequence


@given(valid_nips())
def test_every_well_formed_nip_is_accepted_with_its_parts(
    case: tuple[str, date, tuple[int, int], int, int],
) -> None:
    number, birth, appointed, sex, sequence = case
    nip = parse_nip(number, today=TODAY)
    assert (nip.number, nip.birth_date, nip.appointed, nip.sex, nip.sequence) == (
        number,
        birth,
        appointed,
        sex,
        sequence,
    )


@given(valid_nips(), st.sampled_from([" ", ".", "-", "  "]))
def test_spaces_and_dots_people_type_are_dropped(
    case: tuple[str, date, tuple[int, int], int, int], sep: str
) -> None:
    number = case[0]
    written = sep.join([number[:8], number[8:14], number[14], number[15:]])
    assert parse_nip(f" {written} ", today=TODAY).number == number


@given(valid_nips(), st.integers(min_value=0, max_value=17), st.characters(categories=["L"]))
def test_a_letter_anywhere_is_refused(
    case: tuple[str, date, tuple[int, int], int, int], at: int, letter: str
) -> None:
    number = case[0]
    with pytest.raises(NipError, match="digits only"):
        parse_nip(number[:at] + letter + number[at + 1 :], today=TODAY)


@given(st.text(alphabet="0123456789", min_size=1, max_size=30).filter(lambda s: len(s) != 18))
def test_a_wrong_length_says_how_many_digits_it_has(digits: str) -> None:
    with pytest.raises(NipError) as raised:
        parse_nip(digits, today=TODAY)
    assert raised.value.params == {"count": len(digits)}
    assert raised.value.field == "nip"


@pytest.mark.parametrize(
    ("number", "part"),
    [
        ("198013012006041001", "Digits 1-8"),  # month 13
        ("198002302006041001", "Digits 1-8"),  # 30 February
        ("203001012006041001", "Digits 1-8"),  # born in the future
        ("198001012006131001", "Digits 9-14"),  # TMT month 13
        ("198001012006001001", "Digits 9-14"),  # TMT month 00
        ("198001012030011001", "in the future"),
        ("198001011990011001", "too soon after the birth"),
        ("198001012006043001", "Digit 15"),
        ("198001012006040001", "Digit 15"),
        ("198001012006041000", "sequence"),
    ],
)
def test_each_broken_part_gets_its_own_message(number: str, part: str) -> None:
    with pytest.raises(NipError, match=part):
        parse_nip(number, today=TODAY)


def test_an_empty_nip_asks_for_one() -> None:
    with pytest.raises(NipError, match="Enter your NIP"):
        check_nip("   ")


def test_the_appointment_month_may_be_this_month() -> None:
    this_month = TODAY.replace(day=1) + timedelta(days=0)
    number = f"19800101{this_month:%Y%m}1001"
    assert parse_nip(number, today=TODAY).appointed == (TODAY.year, TODAY.month)
