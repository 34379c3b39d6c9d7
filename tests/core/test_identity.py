"""Normalising and validating phones and Chinese ID numbers; building valid ID numbers for data."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError
from stdnum.cn import ric

from rightscare.core import identity

# --- phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("0755-2345 6789", "+8675523456789"),
        ("+86 755 23456789", "+8675523456789"),
        ("(0755) 23456789", "+8675523456789"),
        ("13800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("  +8613800138000  ", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),  # full-width digits, as some Chinese input methods type them
        ("+1 202 555 0143", "+12025550143"),
    ],
)
def test_phone_forms_normalise_to_e164(typed, e164):
    assert identity.normalise_phone(typed) == e164
    assert identity.check_phone(typed) == identity.Checked(e164, ())


@pytest.mark.parametrize("typed", ["", "   ", "12338", "1380013", "0755 2345 678", "abc", "+86 138 0013 8000 1", "1" * 65])
def test_invalid_phone_is_a_clear_error(typed):
    with pytest.raises(ValidationError) as raised:
        identity.normalise_phone(typed)
    assert raised.value.code == "invalid_phone"
    assert raised.value.messages[0] in {
        "Enter a valid phone number, e.g. 138 0013 8000 or 0755-2345 6789.",
        "This is not a valid phone number: check the digits and the area code.",
    }


def test_phone_display_and_mask():
    assert identity.format_phone("+8613800138000") == "+86 138 0013 8000"
    assert identity.mask_phone("+8613800138000") == "+86 138****8000"
    assert identity.mask_phone("+8675523456789") == "+86 755****6789"
    assert identity.format_phone("") == identity.mask_phone("") == ""


# --- ID numbers -------------------------------------------------------------------------------


def test_built_number_is_valid_for_stdnum_and_for_us():
    number = identity.build_id_number(birth_place="440303", birth_date=date(1990, 3, 8), sequence=124)
    assert number == "440303199003081247"
    assert ric.is_valid(number)
    assert identity.check_id_number(number) == identity.Checked(number, ())


def test_check_digit_x_is_upper_cased_and_separators_removed():
    number = identity.build_id_number(birth_place="440303", birth_date=date(1991, 7, 2), sequence=6)
    assert number.endswith("X")
    typed = f"{number[:6]} {number[6:14]}-{number[14:].lower()}"
    assert identity.normalise_id_number(typed) == number


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ("4403031990030812", "id_length", "An ID number has 18 characters; this one has 16."),
        ("4403031990030812477", "id_length", "An ID number has 18 characters; this one has 19."),
        ("44030319900308124Y", "id_format", "An ID number is 17 digits followed by a digit or X."),
        ("4403031990030812X7", "id_format", "An ID number is 17 digits followed by a digit or X."),
        ("440303199013081240", "id_birth_date", "Digits 7 to 14 of an ID number are the birth date (YYYYMMDD); 19901308 is not a date."),
        ("440303199002301240", "id_birth_date", "Digits 7 to 14 of an ID number are the birth date (YYYYMMDD); 19900230 is not a date."),
        (
            "440303199003081240",
            "id_checksum",
            "The last character of this ID number (the check digit) does not match: check for a mistyped digit.",
        ),
    ],
)
def test_id_number_errors(typed, code, message):
    with pytest.raises(ValidationError) as raised:
        identity.check_id_number(typed)
    assert (raised.value.code, raised.value.messages) == (code, [message])


@time_machine.travel(date(2026, 3, 1))
def test_birth_date_in_the_future_is_an_error():
    number = identity.build_unchecked_id_number(birth_place="440303", birth_date=date(2026, 3, 2), sequence=1)
    with pytest.raises(ValidationError) as raised:
        identity.check_id_number(number)
    assert (raised.value.code, raised.value.messages) == ("id_birth_date", ["The birth date 2026-03-02 in this ID number is impossible."])


def test_no_province_is_an_error():
    number = identity.build_unchecked_id_number(birth_place="990303", birth_date=date(1990, 3, 8), sequence=1)
    with pytest.raises(ValidationError) as raised:
        identity.check_id_number(number)
    assert (raised.value.code, raised.value.messages) == ("id_birth_place", ["The first six digits of an ID number are a division code; 990303 is not one."])


def test_birth_place_not_yet_in_use_is_a_warning():
    # Longhua district (440309) was created in 2016.
    number = identity.build_unchecked_id_number(birth_place="440309", birth_date=date(1990, 3, 8), sequence=124)
    assert not ric.is_valid(number)
    checked = identity.check_id_number(number)
    assert checked.value == number
    assert checked.warnings == ("The birth-place code 440309 (龙华区) was not in use in 1990, only in 2016–. Check it against the card.",)
    # For lookups and indexes a confirmed number is as good as any.
    assert identity.normalise_id_number(number) == number


def test_birth_place_in_use_from_its_year_has_no_warning():
    number = identity.build_id_number(birth_place="440309", birth_date=date(2016, 1, 1), sequence=2)
    assert identity.check_id_number(number).warnings == ()


def test_birth_place_with_several_periods_names_them_all():
    number = identity.build_unchecked_id_number(birth_place="440303", birth_date=date(1982, 3, 8), sequence=124)
    assert identity.check_id_number(number).warnings == (
        "The birth-place code 440303 (罗湖区办事处/罗湖区) was not in use in 1982, only in 1983–1989, 1990–. Check it against the card.",
    )


def test_unknown_county_of_a_known_province_is_a_warning():
    number = identity.build_unchecked_id_number(birth_place="440399", birth_date=date(1990, 3, 8), sequence=124)
    assert identity.check_id_number(number).warnings == ("The birth-place code 440399 is not in the list of division codes. Check it against the card.",)


def test_builder_refuses_a_code_not_in_use_in_the_birth_year():
    with pytest.raises(ValueError, match="division code 440309 was not in use in 1990"):
        identity.build_id_number(birth_place="440309", birth_date=date(1990, 3, 8), sequence=124)


@pytest.mark.parametrize(("place", "sequence"), [("44030", 1), ("4403031", 1), ("44030a", 1), ("440303", -1), ("440303", 1000)])
def test_builder_refuses_malformed_parts(place, sequence):
    with pytest.raises(ValueError):
        identity.build_unchecked_id_number(birth_place=place, birth_date=date(1990, 3, 8), sequence=sequence)


def test_mask_id_number():
    assert identity.mask_id_number("44030319910702006X") == "4403**********006X"
    assert identity.mask_id_number("") == ""


def test_normalise_by_kind():
    assert identity.normalise("phone", "138 0013 8000") == "+8613800138000"
    number = identity.build_id_number(birth_place="440303", birth_date=date(1990, 3, 8), sequence=124)
    assert identity.normalise("id_number", number.lower()) == number
    with pytest.raises(LookupError):
        identity.normalise("address", "x")
