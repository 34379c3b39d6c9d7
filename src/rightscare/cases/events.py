"""The case timeline: one ``record_<what>``-style entry point per domain event.

Every service that changes a case records its event here, in the same transaction.
The timeline feeds the case page, the petitioner's tracking page (public events
only, never naming a handling person) and later the deadline history.
"""

from __future__ import annotations

from typing import Any

from rightscare.cases.models import Case, CaseEvent, EventKind, Visibility, WorkOrder


def record_event(
    *,
    case: Case,
    kind: EventKind | str,
    actor: Any = None,
    unit: Any = None,
    work_order: WorkOrder | None = None,
    text: str = "",
    public_text: str = "",
    visibility: Visibility | str = Visibility.HANDLING,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one event to the case's timeline."""
    return CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        unit=unit,
        work_order=work_order,
        text=text,
        public_text=public_text,
        visibility=visibility,
        data=data or {},
    )
