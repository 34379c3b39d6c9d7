"""Field encryption (AES-256-GCM) and blind indexes (HMAC-SHA256), with rotating keys.

Keys come from the environment, never from the database:

* ``RIGHTSCARE_FIELD_KEY`` (or ``RIGHTSCARE_FIELD_KEY_FILE``): encrypts protected fields.
* ``RIGHTSCARE_INDEX_KEY`` (or ``_FILE``): keys the blind indexes used for exact lookup.

Each is a comma-separated list of ``key-id:base64-key`` (32 random bytes); the first
is the active key, the others are still accepted for reading (field key) or
looking up (index key) until ``rotate-field-key`` / ``rotate-index-key`` has
rewritten every row. Every ciphertext and index value carries its key id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CIPHERTEXT_PREFIX = "gcm1"
NONCE_BYTES = 12


class KeyError_(ImproperlyConfigured):
    """A key is missing or malformed."""


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; ``active`` is the one new values are written with."""

    active: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str, *, name: str) -> KeyRing:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep or not key_id or not key_id.isalnum():
                raise KeyError_(f"{name}: each key is written key-id:base64 (letters and digits for the id)")
            try:
                raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError as error:
                raise KeyError_(f"{name}: key {key_id} is not base64") from error
            if len(raw) != 32:
                raise KeyError_(f"{name}: key {key_id} must be 32 bytes, not {len(raw)}")
            if key_id in keys:
                raise KeyError_(f"{name}: key id {key_id} appears twice")
            keys[key_id] = raw
            order.append(key_id)
        if not order:
            raise KeyError_(f"{name} is not set")
        return cls(active=order[0], keys=keys)


def generate_key_spec(key_id: str | None = None) -> str:
    """A new ``key-id:base64`` entry for a key file or variable."""
    key_id = key_id or secrets.token_hex(4)
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"


def _read(name: str) -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        with open(file_name, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get(name, "") or str(getattr(settings, name.removeprefix("RIGHTSCARE_") + "_SPEC", "") or "")


@cache
def field_keys() -> KeyRing:
    """The field-encryption key ring (cached; call ``reset_keys()`` after changing it)."""
    return KeyRing.parse(_read("RIGHTSCARE_FIELD_KEY"), name="RIGHTSCARE_FIELD_KEY")


@cache
def index_keys() -> KeyRing:
    """The blind-index key ring."""
    return KeyRing.parse(_read("RIGHTSCARE_INDEX_KEY"), name="RIGHTSCARE_INDEX_KEY")


def reset_keys() -> None:
    """Forget the cached key rings (tests, key rotation)."""
    field_keys.cache_clear()
    index_keys.cache_clear()


def encrypt(plaintext: str, *, context: str) -> str:
    """Encrypt ``plaintext`` bound to ``context`` (table and column), with the active key."""
    ring = field_keys()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext.encode("utf-8"), context.encode())
    body = base64.b64encode(nonce + sealed).decode()
    return f"{CIPHERTEXT_PREFIX}${ring.active}${body}"


def key_id_of(ciphertext: str) -> str:
    """The id of the key a stored value was encrypted with."""
    return ciphertext.split("$", 2)[1]


def decrypt(ciphertext: str, *, context: str) -> str:
    """Decrypt a value written by :func:`encrypt`; a wrong context or key fails loudly."""
    prefix, key_id, body = ciphertext.split("$", 2)
    if prefix != CIPHERTEXT_PREFIX:
        raise ValueError("not a RightsCare ciphertext")
    ring = field_keys()
    if key_id not in ring.keys:
        raise KeyError_(f"RIGHTSCARE_FIELD_KEY has no key {key_id}; it is needed to read existing data")
    raw = base64.b64decode(body)
    return AESGCM(ring.keys[key_id]).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode("utf-8")


def blind_index(kind: str, normalised: str, *, key_id: str | None = None) -> str:
    """The keyed digest of an already normalised value, prefixed by its key id."""
    ring = index_keys()
    key_id = key_id or ring.active
    digest = hmac.new(ring.keys[key_id], f"{kind}\x00{normalised}".encode(), hashlib.sha256).hexdigest()
    return f"{key_id}${digest}"


def blind_index_candidates(kind: str, normalised: str) -> list[str]:
    """The digests of a value under every key in the ring: lookups keep working mid-rotation."""
    ring = index_keys()
    return [blind_index(kind, normalised, key_id=key_id) for key_id in ring.keys]


def encrypt_bytes(plaintext: bytes, *, context: str) -> bytes:
    """Encrypt a file's bytes bound to ``context`` (e.g. its storage name), with the active field key.

    The result is ``gcm1$<key id>$`` followed by the nonce and the sealed bytes, so a
    file written before a key rotation can still be read while its key is in the ring.
    """
    ring = field_keys()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext, context.encode())
    return f"{CIPHERTEXT_PREFIX}${ring.active}$".encode() + nonce + sealed


def decrypt_bytes(ciphertext: bytes, *, context: str) -> bytes:
    """Decrypt bytes written by :func:`encrypt_bytes`; a wrong context, key or a changed byte fails loudly."""
    prefix, key_id_bytes, body = ciphertext.split(b"$", 2)
    if prefix != CIPHERTEXT_PREFIX.encode():
        raise ValueError("not a RightsCare ciphertext")
    key_id = key_id_bytes.decode("ascii")
    ring = field_keys()
    if key_id not in ring.keys:
        raise KeyError_(f"RIGHTSCARE_FIELD_KEY has no key {key_id}; it is needed to read existing data")
    return AESGCM(ring.keys[key_id]).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], context.encode())
