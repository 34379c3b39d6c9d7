"""Writing the audit log: call these from the service that makes the change, in its transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from rightscare.audit.models import AuditAction, AuditEntry

#: What an encrypted field's change is recorded as: never its value.
CHANGED = "changed"


def _label(obj: Any) -> str:
    return str(obj)[:300] if obj is not None else ""


def _actor(actor: Any) -> tuple[int | None, str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, ""
    name = getattr(actor, "full_name", "") or ""
    return actor.pk, f"{actor.get_username()} ({name})" if name else actor.get_username()


def diff(before: dict[str, Any], after: dict[str, Any], *, secret: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """The fields that differ, as ``{field: [old, new]}``; secret fields only as ``"changed"``."""
    changes: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            changes[name] = CHANGED if name in secret else [_plain(old), _plain(new)]
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": str(value)}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
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
    change, so the entry exists exactly when the change does.
    """
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    actor_id, actor_label = _actor(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_label = object_label or _label(obj)
    return AuditEntry.objects.create(
        actor_id=actor_id,
        actor_label=actor_label,
        unit_id=unit.pk if unit is not None else None,
        unit_label=_label(unit),
        action=action,
        event=event,
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label[:300],
        changes=changes or {},
        reason=reason,
        ip_address=ip_address[:45],
    )


def record_read(*, actor: Any, obj: Any, unit: Any = None, reason: str = "", fields: tuple[str, ...] = ()) -> AuditEntry:
    """Note that ``actor`` looked at a sensitive record (and which protected fields she saw)."""
    return record(actor=actor, action=AuditAction.READ, event="read", obj=obj, unit=unit, reason=reason, changes={"fields": list(fields)} if fields else None)
