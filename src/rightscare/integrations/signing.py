"""HMAC-SHA256 signatures of HTTP requests between RightsCare and other systems.

One scheme, both ways (the CTI's events to us, our webhooks and 12345 report-backs out):
the signature is ``HMAC-SHA256(secret, timestamp + "." + body)`` in lower-case hex, where
``timestamp`` is the decimal Unix time in seconds sent in the timestamp header and
``body`` the exact bytes of the request body. The timestamp is inside the signed text,
so a captured request cannot be replayed later with a fresh timestamp; the receiver
refuses timestamps outside its window and remembers what it accepted within it.

Headers: ``X-RightsCare-Timestamp: 1764552600`` and
``X-RightsCare-Signature: sha256=<hex>`` (the ``sha256=`` prefix is optional on input).
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-RightsCare-Timestamp"
SIGNATURE_HEADER = "X-RightsCare-Signature"
EVENT_HEADER = "X-RightsCare-Event"
DELIVERY_HEADER = "X-RightsCare-Delivery"
SIGNATURE_PREFIX = "sha256="


def signed_text(timestamp: int | str, body: bytes) -> bytes:
    """What is signed: the timestamp, a full stop, then the body's exact bytes."""
    return str(timestamp).encode("ascii") + b"." + body


def sign(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The lower-case hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), signed_text(timestamp, body), hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The value of the signature header: ``sha256=<hex>``."""
    return SIGNATURE_PREFIX + sign(secret=secret, timestamp=timestamp, body=body)


def parse_signature(header: str) -> str:
    """The hex digest of a signature header (with or without ``sha256=``), lower-cased; "" when malformed."""
    value = header.strip()
    if value.lower().startswith(SIGNATURE_PREFIX):
        value = value[len(SIGNATURE_PREFIX) :]
    value = value.lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        return ""
    return value


def verify(*, secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (a header value) is the signature of ``timestamp.body`` under ``secret`` (constant time)."""
    digest = parse_signature(signature)
    if not secret or not digest or not timestamp.isdigit():
        return False
    return hmac.compare_digest(digest, sign(secret=secret, timestamp=timestamp, body=body))
