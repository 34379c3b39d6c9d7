"""The case timeline: one ``record_<what>``-style entry point per domain event.

Every service that changes a case records its event here, in the same transaction.
The timeline feeds the case page, the petitioner's tracking page (public events
only, never naming a handling person) and later the deadline history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import translation

from rightscare.cases.models import Case, CaseEvent, EventKind, Visibility, WorkOrder


def system_text(render: Callable[[], Any]) -> str:
    """A text the system writes into a timeline, rendered in the installation's language
    (``LANGUAGE_CODE``) whoever's request wrote it, so that every reader of the case reads
    the same words; ``render`` builds it (``lambda: _("…") % {…}``)."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(render())


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
