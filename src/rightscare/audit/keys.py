"""The audit key: it signs the anchors of the audit chain and lives only outside the database.

``RIGHTSCARE_AUDIT_KEY`` (or ``RIGHTSCARE_AUDIT_KEY_FILE``) holds one or more keys,
comma-separated, each 32 random bytes in URL-safe base64. The first signs new
anchors; the others are still accepted when verifying old ones, so the key can be
rotated. Each anchor names its key by a short fingerprint, never by the key itself.

The demo, which has no operator to configure a key, keeps a generated one in its
data directory; tests get a fresh one per process (``settings.AUDIT_KEY_SPEC``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_VARIABLE = "RIGHTSCARE_AUDIT_KEY"
MIN_KEY_BYTES = 32
DEMO_KEY_FILE = "demo-audit-key"


class AuditKeyError(ImproperlyConfigured):
    """The audit key is missing or malformed."""


@dataclass(frozen=True)
class AuditKeyRing:
    """The configured audit keys by fingerprint; ``active`` signs new anchors."""

    active: str
    keys: dict[str, bytes]

    def sign(self, chain_no: int, entry_hash: str, *, key_id: str | None = None) -> str:
        """``HMAC-SHA256(key, "<chain_no>:<hash>")`` in hex, with the active key unless ``key_id`` names another."""
        key = self.keys[key_id or self.active]
        return hmac.new(key, f"{chain_no}:{entry_hash}".encode(), hashlib.sha256).hexdigest()

    def verify(self, chain_no: int, entry_hash: str, *, key_id: str, mac: str) -> bool:
        """Whether ``mac`` is the HMAC of the link under the key ``key_id`` (False for an unknown key)."""
        if key_id not in self.keys:
            return False
        return hmac.compare_digest(self.sign(chain_no, entry_hash, key_id=key_id), mac)


def key_id_of(key: bytes) -> str:
    """A short public fingerprint of a key, written into each anchor it signs."""
    return hashlib.sha256(b"rightscare.audit-key-id:" + key).hexdigest()[:12]


def generate_key() -> str:
    """A new key, as it is written in ``RIGHTSCARE_AUDIT_KEY``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode()


def parse_keys(spec: str) -> AuditKeyRing:
    """Read a comma-separated list of base64 keys; the first is the active one."""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for position, item in enumerate((part.strip() for part in spec.split(",")), start=1):
        if not item:
            continue
        try:
            raw = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except (binascii.Error, ValueError) as error:
            raise AuditKeyError(f"{KEY_VARIABLE}: key {position} is not base64") from error
        if len(raw) < MIN_KEY_BYTES:
            raise AuditKeyError(f"{KEY_VARIABLE}: key {position} has {len(raw)} bytes; it needs at least {MIN_KEY_BYTES}")
        key_id = key_id_of(raw)
        if key_id not in keys:
            keys[key_id] = raw
            order.append(key_id)
    if not order:
        raise AuditKeyError(f"{KEY_VARIABLE} (or {KEY_VARIABLE}_FILE) is not set")
    return AuditKeyRing(active=order[0], keys=keys)


def configured_spec() -> tuple[str, str]:
    """The key text and where it came from (``"environment"``, ``"file"``, ``"settings"``, ``"demo"`` or ``""``)."""
    file_name = os.environ.get(f"{KEY_VARIABLE}_FILE")
    if file_name:
        return Path(file_name).read_text(encoding="utf-8").strip(), "file"
    value = os.environ.get(KEY_VARIABLE, "").strip()
    if value:
        return value, "environment"
    spec = str(getattr(settings, "AUDIT_KEY_SPEC", "") or "")
    if spec:
        return spec, "settings"
    if settings.DEMO:
        return _demo_key(), "demo"
    return "", ""


def _demo_key() -> str:
    # The demo has invented data and no operator: a key kept next to its database is enough there.
    path = Path(settings.DATA_DIR) / DEMO_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(generate_key() + "\n")
    return path.read_text(encoding="utf-8").strip()


def audit_keys() -> AuditKeyRing:
    """The configured audit key ring; raises :class:`AuditKeyError` when there is none.

    Not cached: it is read once per seal or verification, and tests change it.
    """
    spec, _source = configured_spec()
    return parse_keys(spec)
