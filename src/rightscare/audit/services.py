"""Writing the audit log and sealing it.

Call :func:`record` (or :func:`record_read`) from the service that makes the change,
inside its transaction, so the entry exists exactly when the change does. A service
that writes several entries in one transaction may run in :func:`batched`: they are
then written together, with one ``INSERT``, at its end. The worker's scheduler calls
:func:`seal` periodically (``audit.tasks.seal_audit_log``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, models, router, transaction
from django.utils import timezone, translation

from rightscare.audit.chain import GENESIS, hash_entry, make_anchor, write_anchor
from rightscare.audit.keys import AuditKeyRing, audit_keys
from rightscare.audit.models import AppendOnlyError, AuditAction, AuditChainHead, AuditEntry
from rightscare.core.barriers import barrier

logger = logging.getLogger(__name__)

#: What an encrypted field's change is recorded as: never its value.
CHANGED = "changed"


def _label(obj: Any, length: int = 300) -> str:
    if obj is None:
        return ""
    # Snapshots in the installation's language, whatever the language of the request.
    with translation.override(settings.LANGUAGE_CODE):
        return str(obj)[:length]


def _actor(actor: Any) -> tuple[int | None, str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, ""
    name = getattr(actor, "full_name", "") or ""
    label = f"{actor.get_username()} ({name})" if name else actor.get_username()
    return actor.pk, label[:200]


def diff(before: dict[str, Any], after: dict[str, Any], *, secret: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """The fields that differ, as ``{field: [old, new]}``; secret fields only as ``"changed"``."""
    changes: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            changes[name] = CHANGED if name in secret else [plain(old), plain(new)]
    return changes


def plain(value: Any) -> Any:
    """A value as the audit log keeps it: a record as ``{"id", "label"}``, anything else JSON-safe."""
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": _label(value)}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record(
    *,
    actor: Any,
    action: str,
    event: str = "",
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    object_label: str = "",
    unit: Any = None,
    changes: dict[str, Any] | None = None,
    reason: str = "",
    ip_address: str = "",
) -> AuditEntry:
    """Append one entry: who did what to which object, for which unit, and what changed.

    ``obj`` (a model instance) fills the object fields; they can also be given
    directly for things that are not rows. Call it inside the transaction of the
    change, so the entry exists exactly when the change does. Inside :func:`batched`
    the entry is written at the block's end (its ``pk`` is set then).
    """
    entry = new_entry(
        actor=actor,
        action=action,
        event=event,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        object_label=object_label,
        unit=unit,
        changes=changes,
        reason=reason,
        ip_address=ip_address,
    )
    batch = _current_batch.get()
    if batch is not None:
        batch.add(entry)
    else:
        entry.save(force_insert=True)
    return entry


def _noop() -> None:
    """What a deferred entry's marker runs on commit: nothing (see ``_Batch.add``)."""


@dataclass
class _Batch:
    """The entries :func:`record` deferred in a :func:`batched` block, not written yet."""

    using: str
    #: How many atomic blocks (savepoints or not) were open once the block's own was.
    depth: int
    #: Each entry with its marker: ``None`` when recorded in the block's own transaction, else
    #: the on-commit callback registered with it inside a savepoint of the block.
    entries: list[tuple[AuditEntry, Callable[[], None] | None]] = field(default_factory=list)

    def add(self, entry: AuditEntry) -> None:
        """Defer ``entry``; recorded inside a savepoint opened in the block, mark it.

        Such a savepoint may be rolled back alone (and its error caught) while the block goes
        on: its rows are gone, and so must its entries be. Django discards the on-commit
        callbacks registered inside a savepoint rolled back, so an entry whose (no-op)
        callback is still registered at the flush belongs to rows that are still there.
        """
        connection = connections[self.using]
        marker: Callable[[], None] | None = None
        if any(sid is not None for sid in connection.savepoint_ids[self.depth :]):
            marker = functools.partial(_noop)  # one object per entry, compared by identity
            transaction.on_commit(marker, using=self.using)
        self.entries.append((entry, marker))

    def flush(self) -> None:
        """Write the entries still standing (see :meth:`add`) with one ``INSERT``, in their order."""
        if not self.entries:
            return
        registered = {id(callback[1]) for callback in connections[self.using].run_on_commit}
        entries = [entry for entry, marker in self.entries if marker is None or id(marker) in registered]
        self.entries = []
        if entries:
            record_many(entries)


_current_batch: ContextVar[_Batch | None] = ContextVar("audit_batch", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """An atomic block in which :func:`record` collects the entries and writes them with one
    ``INSERT`` (:func:`record_many`) at the block's end, in the order they were recorded.

    The block is a ``transaction.atomic()`` of its own, so its entries and its rows are
    committed or rolled back together: when the block raises, nothing of it is written. An
    error caught inside the block loses nothing: the entries wait until the end. An entry
    recorded inside a savepoint that is rolled back while the block goes on is dropped with
    that savepoint's rows (``_Batch.add``). A block inside another adds to the outer one's
    entries, written at the outer block's end. The entries' ``pk`` is set when they are
    written: a caller needing it at once must not run in this block.
    """
    using = router.db_for_write(AuditEntry)
    with transaction.atomic(using=using):
        if _current_batch.get() is not None:
            yield  # a savepoint of the outer block: its entries go with the outer's
            return
        connection = connections[using]
        batch = _Batch(using=using, depth=len(connection.savepoint_ids))
        token = _current_batch.set(batch)
        try:
            yield
            if not connection.needs_rollback:
                # (Otherwise the block is rolled back on its exit, its entries with it.)
                batch.flush()
        finally:
            _current_batch.reset(token)


def new_entry(
    *,
    actor: Any,
    action: str,
    event: str = "",
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    object_label: str = "",
    unit: Any = None,
    changes: dict[str, Any] | None = None,
    reason: str = "",
    ip_address: str = "",
) -> AuditEntry:
    """The entry :func:`record` would append, not written yet: for :func:`record_many`."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    actor_id, actor_label = _actor(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_label = object_label or _label(obj)
    return AuditEntry(
        actor_id=actor_id,
        actor_label=actor_label,
        unit_id=unit.pk if unit is not None else None,
        unit_label=_label(unit, 200),
        action=action,
        event=event[:64],
        object_type=object_type[:64],
        object_id=str(object_id)[:64],
        object_label=object_label[:300],
        changes=changes or {},
        reason=reason,
        ip_address=ip_address[:45],
    )


def record_many(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Append entries made by :func:`new_entry` with one ``INSERT``, inside the caller's transaction.

    New rows only, unsealed, like :func:`record`'s: the sealer numbers them later in id order
    (their order in ``entries``).
    """
    if any(entry.pk is not None or entry.chain_no is not None for entry in entries):
        raise AppendOnlyError("only new, unsealed audit entries can be appended")
    return AuditEntry.objects.bulk_create(entries)


def record_read(*, actor: Any, obj: Any, unit: Any = None, reason: str = "", fields: tuple[str, ...] = ()) -> AuditEntry:
    """Note that ``actor`` looked at a sensitive record (and which protected fields she saw)."""
    return record(actor=actor, action=AuditAction.READ, event="read", obj=obj, unit=unit, reason=reason, changes={"fields": list(fields)} if fields else None)


# --- sealing ---------------------------------------------------------------------


def seal(*, batch_size: int = 1000, max_batches: int = 100) -> int:
    """Seal every committed entry not sealed yet; return how many were sealed.

    Each entry gets the next chain number in the order this sealer sees it (not
    in id order: transactions commit out of id order, and rolled-back ids leave
    gaps) and a hash over its content, that number and the previous entry's hash.
    Writers never wait for this: they insert without any chain lock; only sealers
    take turns, on the chain-head row. Each batch commits on its own, and after
    each commit the head is written, signed with the audit key, to the anchor sink.

    At most ``max_batches`` batches per call, so that a worker is never held for
    long: whatever is left is sealed by the next call.

    A sealer killed after claiming rows (the ``audit.seal.claimed`` barrier) has its
    transaction rolled back: the next seal picks the same rows up, without gaps.
    Raises :class:`~rightscare.audit.keys.AuditKeyError` before sealing anything
    when no audit key is configured.
    """
    ring = audit_keys()
    total = 0
    for _batch in range(max_batches):
        sealed = _seal_batch(batch_size)
        total += sealed
        _anchor_head(ring)
        if sealed < batch_size:
            break
    return total


def _seal_batch(batch_size: int) -> int:
    with transaction.atomic():
        # Serialises sealers (SQLite's IMMEDIATE transaction already holds the write lock).
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(pk=AuditChainHead.SINGLETON)
        entries = list(AuditEntry.objects.unsealed().order_by("id")[:batch_size])
        if not entries:
            return 0
        # A crash test kills the sealer here: its transaction is rolled back and nothing is lost.
        barrier("audit.seal.claimed")
        now = timezone.now()
        chain_no, previous_hash = head.chain_no, head.entry_hash or GENESIS
        for entry in entries:
            chain_no += 1
            entry_hash = hash_entry(entry, chain_no=chain_no, previous_hash=previous_hash)
            _write_seal(entry.pk, chain_no=chain_no, previous_hash=previous_hash, entry_hash=entry_hash, sealed_at=now)
            previous_hash = entry_hash
        head.chain_no, head.entry_hash, head.sealed_at = chain_no, previous_hash, now
        head.save(update_fields=["chain_no", "entry_hash", "sealed_at"])
    return len(entries)


def _write_seal(pk: int, *, chain_no: int, previous_hash: str, entry_hash: str, sealed_at: Any) -> None:
    # The one internal path that writes an entry after it was created: the sealing
    # columns only. The public QuerySet.update() keeps refusing every change.
    meta = AuditEntry._meta
    values = [
        (meta.get_field("chain_no"), None, chain_no),
        (meta.get_field("previous_hash"), None, previous_hash),
        (meta.get_field("entry_hash"), None, entry_hash),
        (meta.get_field("sealed_at"), None, sealed_at),
    ]
    written = AuditEntry.objects.filter(pk=pk, chain_no__isnull=True)._update(values)  # type: ignore[attr-defined]
    if written != 1:
        # Impossible while sealers take turns on the head row; never leave a gap if it happens.
        raise RuntimeError(f"audit entry {pk} was sealed by someone else")


def _anchor_head(ring: AuditKeyRing) -> None:
    """Write the chain head to the anchor sink if it has not been anchored yet."""
    head = AuditChainHead.objects.filter(pk=AuditChainHead.SINGLETON).first()
    if head is None or head.chain_no <= head.anchored_chain_no:
        return
    write_anchor(make_anchor(ring, chain_no=head.chain_no, entry_hash=head.entry_hash, at=timezone.now()))
    AuditChainHead.objects.filter(pk=head.pk, anchored_chain_no__lt=head.chain_no).update(anchored_chain_no=head.chain_no)
    logger.debug("audit chain anchored at %s", head.chain_no)
