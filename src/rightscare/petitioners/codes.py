"""Tracking codes and PINs: generated at random, shown once, stored only as digests.

* A code is 16 characters of Crockford's base32 (80 random bits from ``secrets``), shown
  grouped as ``XXXX-XXXX-XXXX-XXXX``. Crockford's alphabet has no I, L, O or U, and reading
  it back forgives them (I and L are read as 1, O as 0), spaces, dashes and lower case.
* Only an HMAC of the normalised code is stored (``core.crypto.blind_index`` under the
  index key, kind ``tracking_code``): the database alone cannot tell which code is which,
  nor produce one. Lookups try every key of the ring so codes keep working mid-rotation.
* The PIN (6 digits) is hashed with Django's password hashers (Argon2 in production).
"""

from __future__ import annotations

import secrets

from django.contrib.auth.hashers import check_password, make_password

from rightscare.core import crypto

#: Crockford's base32 alphabet: digits and letters without I, L, O, U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Characters of a code (5 bits each: 80 bits).
CODE_LENGTH = 16
GROUP = 4
PIN_LENGTH = 6
#: The blind-index kind of tracking codes (their digests never mix with phones or ID numbers).
INDEX_KIND = "tracking_code"

_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_code() -> str:
    """A fresh random code, normalised (16 characters, no dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def new_pin() -> str:
    """A fresh random PIN of ``PIN_LENGTH`` digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**PIN_LENGTH):0{PIN_LENGTH}d}"


def normalise(raw: str) -> str | None:
    """The code as stored (upper case, no separators), or None when it cannot be a code."""
    text = "".join(ch for ch in raw.upper() if not ch.isspace() and ch not in "-–—_.").translate(_READ_AS)
    if len(text) != CODE_LENGTH or any(ch not in ALPHABET for ch in text):
        return None
    return text


def display(code: str) -> str:
    """The grouped form shown to people: ``7KQ2-M9XD-4TRB-0HZA``."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def digest(code: str) -> str:
    """The stored digest of a normalised code, under the active index key."""
    return crypto.blind_index(INDEX_KIND, code)


def digest_candidates(code: str) -> list[str]:
    """The digests the code may be stored under: one per key of the index key ring."""
    return crypto.blind_index_candidates(INDEX_KIND, code)


def hash_pin(pin: str) -> str:
    """The PIN's hash for storage."""
    return make_password(pin)


def pin_matches(pin: str, encoded: str | None) -> bool:
    """Whether ``pin`` matches; with no stored hash it still spends the time of one check,
    so an unknown code answers as slowly as a wrong PIN."""
    if encoded is None:
        make_password(pin)
        return False
    return bool(pin) and check_password(pin, encoded)


def is_pin(raw: str) -> bool:
    """Whether the text has the shape of a PIN (digits only, 6 to 12 of them)."""
    value = raw.strip()
    return value.isdigit() and PIN_LENGTH <= len(value) <= 12
