"""Tracking codes and PINs: generated at random, shown once, stored only as digests.

* A code is 16 characters of Crockford's base32 (80 random bits from ``secrets``), shown
  grouped as ``XXXX-XXXX-XXXX-XXXX``. Crockford's alphabet has no I, L, O or U, and reading
  it back forgives them (I and L are read as 1, O as 0), spaces, dashes and lower case.
* Only an HMAC of the normalised code is stored (``core.crypto.blind_index`` under the
  index key, kind ``tracking_code``): the database alone cannot tell which code is which,
  nor produce one. Lookups try every key of the ring so codes keep working mid-rotation.
* The PIN (6 digits) is stored as an HMAC under the index key too, with a random salt of its
  own: ``pin1$<salt>$<key id>$<digest>``. A slow password hash would add nothing against
  someone who has the database and the key (a million PINs), and against someone with the
  database alone the keyed digest cannot be attacked at all; what guards a PIN online is the
  rate limit of the tracking page. Argon2 made every hotline call spend 190 ms of CPU and
  100 MB of memory inside the registration's transaction (bench/results/2026-12-06-intake.md).
  PINs stored earlier with Django's password hashers are still accepted, and rewritten in the
  new form the first time they match.
"""

from __future__ import annotations

import hmac
import secrets

from django.contrib.auth.hashers import check_password

from rightscare.core import crypto

#: Crockford's base32 alphabet: digits and letters without I, L, O, U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Characters of a code (5 bits each: 80 bits).
CODE_LENGTH = 16
GROUP = 4
PIN_LENGTH = 6
#: The blind-index kind of tracking codes (their digests never mix with phones or ID numbers).
INDEX_KIND = "tracking_code"
#: The digest kind and the stored form's scheme of PINs.
PIN_KIND = "tracking_pin"
PIN_SCHEME = "pin1"

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


def hash_pin(pin: str, *, salt: str | None = None, key_id: str | None = None) -> str:
    """The PIN's stored form: ``pin1$<salt>$<key id>$<HMAC-SHA256 of salt and PIN>`` (a new salt unless given)."""
    salt = salt or secrets.token_hex(16)
    digest = crypto.blind_index(PIN_KIND, salt + "\x00" + pin, key_id=key_id)
    return f"{PIN_SCHEME}${salt}${digest}"


def pin_matches(pin: str, encoded: str | None) -> bool:
    """Whether ``pin`` matches the stored form; with none stored it still computes one digest, and says no."""
    if encoded is None:
        hash_pin(pin or "0")
        return False
    if not pin:
        return False
    if not encoded.startswith(f"{PIN_SCHEME}$"):
        # Stored before the keyed digest, with Django's password hashers.
        return check_password(pin, encoded)
    _scheme, salt, key_id, _digest = encoded.split("$", 3)
    if key_id not in crypto.index_keys().keys:
        return False
    return hmac.compare_digest(hash_pin(pin, salt=salt, key_id=key_id), encoded)


def pin_needs_rewrite(encoded: str) -> bool:
    """Whether a matching PIN's stored form is old (a password hash, or an index key no longer active)."""
    if not encoded.startswith(f"{PIN_SCHEME}$"):
        return True
    return encoded.split("$", 3)[2] != crypto.index_keys().active


def is_pin(raw: str) -> bool:
    """Whether the text has the shape of a PIN (digits only, 6 to 12 of them)."""
    value = raw.strip()
    return value.isdigit() and PIN_LENGTH <= len(value) <= 12
