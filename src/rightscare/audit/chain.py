"""The hash chain over audit entries and its anchors outside the database.

Each sealed entry's hash covers its whole content, its chain number and the hash
of the entry before it, so changing, removing or reordering a sealed entry breaks
every later link. An attacker who can write the database could recompute the
whole chain, though; so after each seal the head of the chain (its number and
hash) is written, with an HMAC under the audit key the database does not hold,
to an append-only *anchor sink*: a file (ideally on another machine or WORM
storage) or the ``rightscare.audit.anchor`` logger (shipped to syslog/journald).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from rightscare.audit.keys import AuditKeyRing
from rightscare.audit.models import AuditEntry

#: The "previous hash" of the first entry of the chain.
GENESIS = "0" * 64

#: The version of the hashed content's layout; bumped only with a migration that reseals nothing.
HASH_VERSION = 1

#: The sink value that sends anchors to the logger instead of a file.
LOG_SINK = "log:"

anchor_logger = logging.getLogger("rightscare.audit.anchor")

#: The columns whose values an entry's hash covers (the sealing columns are added separately).
CONTENT_FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_label",
    "unit_id",
    "unit_label",
    "action",
    "event",
    "object_type",
    "object_id",
    "object_label",
    "changes",
    "reason",
    "ip_address",
)


def iso_utc(moment: datetime) -> str:
    """A timestamp as ISO 8601 in UTC with microseconds, always the same text for the same instant."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys at every depth and no insignificant white space."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_of(entry: AuditEntry) -> dict[str, Any]:
    """What an entry says, as plain JSON values."""
    content: dict[str, Any] = {name: getattr(entry, name) for name in CONTENT_FIELDS}
    content["at"] = iso_utc(entry.at)
    return content


def hash_entry(entry: AuditEntry, *, chain_no: int, previous_hash: str) -> str:
    """SHA-256 over the canonical JSON of the entry's content, its chain number and the previous hash."""
    payload = {"v": HASH_VERSION, "content": content_of(entry), "chain_no": chain_no, "previous_hash": previous_hash}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


# --- anchors ----------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """One line of the anchor sink: the head of the chain at a seal, signed with the audit key."""

    chain_no: int
    entry_hash: str
    at: str
    key_id: str
    mac: str
    line: int = 0

    def to_line(self) -> str:
        return canonical_json({"chain_no": self.chain_no, "hash": self.entry_hash, "at": self.at, "key": self.key_id, "hmac": self.mac})


def make_anchor(ring: AuditKeyRing, *, chain_no: int, entry_hash: str, at: datetime) -> Anchor:
    """The signed anchor of the chain head ``chain_no``/``entry_hash``."""
    return Anchor(chain_no=chain_no, entry_hash=entry_hash, at=iso_utc(at), key_id=ring.active, mac=ring.sign(chain_no, entry_hash))


class UnreadableAnchor(ValueError):
    """A line of the anchor sink that is not an anchor."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def parse_anchor(text: str, *, line: int = 0) -> Anchor:
    """Read one anchor line; a prefix before the JSON (as syslog adds) is ignored."""
    start = text.find("{")
    if start < 0:
        raise UnreadableAnchor(line, "no anchor on this line")
    try:
        data = json.loads(text[start:])
    except json.JSONDecodeError as error:
        raise UnreadableAnchor(line, "not valid JSON") from error
    if not isinstance(data, dict):
        raise UnreadableAnchor(line, "not an anchor")
    chain_no, entry_hash, at, key_id, mac = (data.get(k) for k in ("chain_no", "hash", "at", "key", "hmac"))
    if not isinstance(chain_no, int) or isinstance(chain_no, bool) or chain_no < 1:
        raise UnreadableAnchor(line, "no valid chain number")
    if not all(isinstance(v, str) and v for v in (entry_hash, at, key_id, mac)):
        raise UnreadableAnchor(line, "a field is missing")
    return Anchor(chain_no=chain_no, entry_hash=str(entry_hash), at=str(at), key_id=str(key_id), mac=str(mac), line=line)


def read_anchor_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of an anchor file with their line numbers."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield number, text.rstrip("\n")


def anchor_sink() -> str:
    """Where anchors go: a file path, or ``log:`` for the ``rightscare.audit.anchor`` logger."""
    return str(getattr(settings, "AUDIT_ANCHOR", "") or Path(settings.DATA_DIR) / "audit-anchors.log")


def write_anchor(anchor: Anchor, *, sink: str | None = None) -> None:
    """Append ``anchor`` to the sink, durably (flushed and fsync'd for a file)."""
    sink = sink or anchor_sink()
    line = anchor.to_line()
    if sink == LOG_SINK:
        anchor_logger.info(line)
        return
    # O_APPEND: every write goes to the end even if several sealers append at once.
    fd = os.open(sink, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def anchors_from_lines(lines: Iterable[tuple[int, str]]) -> tuple[list[Anchor], list[UnreadableAnchor]]:
    """Parse numbered lines into anchors, keeping the lines that are not anchors apart."""
    anchors: list[Anchor] = []
    unreadable: list[UnreadableAnchor] = []
    for number, text in lines:
        try:
            anchors.append(parse_anchor(text, line=number))
        except UnreadableAnchor as error:
            unreadable.append(error)
    return anchors, unreadable
