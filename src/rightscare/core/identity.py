"""People's identifiers: phone numbers and Chinese resident ID numbers (PRODUCT.md C8, C13).

Pure functions, no database. Every identifier is normalised before it is stored,
compared or turned into a blind index, so that the forms an operator types
(``0755-2345 6789``, ``+86 755 23456789``, ``138 0013 8000``…) find the same person:

* phones become E.164 (``+8613800138000``) with ``phonenumbers``, China the
  default region;
* ID numbers (GB 11643) are compacted and upper-cased (``x`` → ``X``) and checked
  with ``python-stdnum``: a wrong length, format, birth date or check digit is an
  error; a birth-place code that did not exist in the birth year, or that stdnum
  does not know, is a *warning*: real cards carry codes that were later retired
  or renamed and stdnum's table can lag behind, so the operator looks at the card
  and confirms.

Fixtures and generated data never type ID numbers by hand: :func:`build_id_number`
makes valid ones from a birth-place code valid for the birth year.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import numdb
from stdnum.cn import ric

#: Numbers typed without a country code are read as Chinese numbers.
DEFAULT_PHONE_REGION = "CN"
#: Longer input is refused before it reaches the parsers.
MAX_INPUT_LENGTH = 64
#: What an ID number may contain around its 18 characters: spaces and hyphens.
_ID_SEPARATORS = re.compile(r"[\s\-]+")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_RANGE = re.compile(r"^\[(?P<start>\d*)-(?P<end>\d*)\](?P<name>.*)$")
#: No resident ID card gives a birth year before this.
EARLIEST_BIRTH_YEAR = 1800


@dataclass(frozen=True)
class Checked:
    """A normalised identifier and what the operator must confirm before it is saved."""

    value: str
    warnings: tuple[str, ...] = field(default=())


# --- phones -------------------------------------------------------------------------


def normalise_phone(raw: str, *, region: str = DEFAULT_PHONE_REGION) -> str:
    """The E.164 form of a phone number (``+8613800138000``).

    Raises ``ValidationError`` (code ``invalid_phone``) for anything that is not a
    valid number in its country: a too short or too long number, letters, a
    service number such as 12338.
    """
    text = raw.strip()
    if not text or len(text) > MAX_INPUT_LENGTH:
        raise ValidationError(_("Enter a valid phone number, e.g. 138 0013 8000 or 0755-2345 6789."), code="invalid_phone")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(_("Enter a valid phone number, e.g. 138 0013 8000 or 0755-2345 6789."), code="invalid_phone") from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This is not a valid phone number: check the digits and the area code."), code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_phone(raw: str) -> Checked:
    """A normalised phone number; phones raise errors only, never warnings."""
    return Checked(normalise_phone(raw))


def format_phone(e164: str) -> str:
    """A stored E.164 number as people read it: ``+86 138 0013 8000``."""
    if not e164:
        return ""
    return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask_phone(e164: str) -> str:
    """A stored number with its middle digits hidden: ``+86 138****8000``."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    national = phonenumbers.national_significant_number(number)
    head, tail = (3, 4) if len(national) >= 9 else (2, 2)
    hidden = max(len(national) - head - tail, 1)
    return f"+{number.country_code} {national[:head]}{'*' * hidden}{national[-tail:]}"


# --- Chinese resident ID numbers ------------------------------------------------------


def compact_id_number(raw: str) -> str:
    """The 18 characters without spaces or hyphens, upper-cased (``x`` → ``X``)."""
    return _ID_SEPARATORS.sub("", raw.strip()).upper()


def _birth_date(number: str) -> date:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as error:
        raise ValidationError(
            _("Digits 7 to 14 of an ID number are the birth date (YYYYMMDD); %(date)s is not a date.") % {"date": number[6:14]}, code="id_birth_date"
        ) from error
    if born.year < EARLIEST_BIRTH_YEAR or born > timezone.localdate():
        raise ValidationError(_("The birth date %(date)s in this ID number is impossible.") % {"date": born.isoformat()}, code="id_birth_date")
    return born


def _place_names(code: str) -> tuple[str, list[tuple[int | None, int | None, str]]]:
    """The province and the (from, to, name) periods stdnum knows for a six-digit code."""
    province = ""
    periods: list[tuple[int | None, int | None, str]] = []
    for _part, props in numdb.get("cn/loc").info(code):
        province = props.get("province", province)
        for county in filter(None, props.get("county", "").split(",")):
            match = _RANGE.match(county)
            if match is None:
                periods.append((None, None, county))
            else:
                start, end = match.group("start"), match.group("end")
                periods.append((int(start) if start else None, int(end) if end else None, match.group("name")))
    return province, periods


def _in_use(periods: list[tuple[int | None, int | None, str]], year: int) -> bool:
    return any((start is None or start <= year) and (end is None or year <= end) for start, end, _name in periods)


def _birth_place_warning(number: str, born: date) -> str | None:
    """None when the birth-place code was in use in the birth year; otherwise the warning.

    The same rule as stdnum's ``get_birth_place`` (which raises ``InvalidComponent``
    in both cases, and a ``KeyError`` for a known province without that county).
    """
    code = number[:6]
    province, periods = _place_names(code)
    if province and _in_use(periods, born.year):
        return None
    if not province:
        raise ValidationError(_("The first six digits of an ID number are a division code; %(code)s is not one.") % {"code": code}, code="id_birth_place")
    if not periods:
        return _("The birth-place code %(code)s is not in the list of division codes. Check it against the card.") % {"code": code}
    names = "/".join(dict.fromkeys(name for _start, _end, name in periods))
    spans = ", ".join(f"{start or ''}–{end or ''}" for start, end, _name in periods if start or end)
    return _("The birth-place code %(code)s (%(names)s) was not in use in %(year)d, only in %(spans)s. Check it against the card.") % {
        "code": code,
        "names": names,
        "year": born.year,
        "spans": spans,
    }


def check_id_number(raw: str) -> Checked:
    """Normalise and validate a Chinese resident ID number (GB 11643).

    Errors (``ValidationError``): wrong length, characters other than 17 digits and
    a final digit or X, an impossible birth date, a wrong check digit, a first
    two digits that are no province. Warnings (in the result): a birth-place code
    unknown, or unknown for the birth year.
    """
    number = compact_id_number(raw)
    if len(raw) > MAX_INPUT_LENGTH or len(number) != 18:
        raise ValidationError(
            _("An ID number has 18 characters; this one has %(count)d.") % {"count": len(number) if len(raw) <= MAX_INPUT_LENGTH else len(raw)},
            code="id_length",
        )
    if not _ID_SHAPE.fullmatch(number):
        raise ValidationError(_("An ID number is 17 digits followed by a digit or X."), code="id_format")
    born = _birth_date(number)
    if ric.calc_check_digit(number) != number[-1]:
        raise ValidationError(_("The last character of this ID number (the check digit) does not match: check for a mistyped digit."), code="id_checksum")
    warning = _birth_place_warning(number, born)
    return Checked(number, (warning,) if warning else ())


def normalise_id_number(raw: str) -> str:
    """The stored and indexed form of an ID number; errors raise, warnings are ignored.

    Used for lookups and for recomputing blind indexes: a number saved after its
    warning was confirmed must still be found.
    """
    return check_id_number(raw).value


def mask_id_number(number: str) -> str:
    """An ID number with all but its first and last four characters hidden: ``4403**********123X``."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"


def build_id_number(*, birth_place: str, birth_date: date, sequence: int) -> str:
    """A valid ID number for fixtures and generated data, check digit computed.

    ``birth_place`` is a six-digit division code that must have been in use in the
    birth year (stdnum's table decides), ``sequence`` 0–999 (odd for men, even for
    women). Raises ``ValueError`` otherwise: generated data must never need a
    confirmed warning unless a test asks for one on purpose (:func:`build_unchecked_id_number`).
    """
    number = build_unchecked_id_number(birth_place=birth_place, birth_date=birth_date, sequence=sequence)
    province, periods = _place_names(birth_place)
    if not province or not _in_use(periods, birth_date.year):
        raise ValueError(f"division code {birth_place} was not in use in {birth_date.year}")
    return number


def build_unchecked_id_number(*, birth_place: str, birth_date: date, sequence: int) -> str:
    """Like :func:`build_id_number` without the birth-place check: for testing the warning."""
    if not re.fullmatch(r"[0-9]{6}", birth_place):
        raise ValueError("birth_place is a six-digit division code")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence is 0 to 999")
    body = f"{birth_place}{birth_date:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


# --- normalisers by blind-index kind ------------------------------------------------------

#: ``BlindIndexField(kind=…)`` → the function that normalises its source value.
NORMALISERS: dict[str, Callable[[str], str]] = {
    "phone": normalise_phone,
    "id_number": normalise_id_number,
}


def normalise(kind: str, value: str) -> str:
    """Normalise ``value`` for the blind index of ``kind``; unknown kinds are a programming error."""
    try:
        normaliser = NORMALISERS[kind]
    except KeyError as error:
        raise LookupError(f"no normaliser for blind-index kind {kind!r}") from error
    return normaliser(value)
