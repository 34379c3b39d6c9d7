"""Template tags of the deadlines: a work order's clocks on the case page, and overdue marks in lists.

The list tags read the clocks of the whole page in one query (never one per row).
"""

from __future__ import annotations

from typing import Any

from django import template

from rightscare.cases.models import TimeClass, WorkOrder, WorkOrderStatus
from rightscare.org import access
from rightscare.org.roles import Capability
from rightscare.supervision import services
from rightscare.supervision.forms import ExtensionForm, PauseForm, ResumeForm
from rightscare.supervision.models import ClockKind, ClockState, DayUnit, ExtensionStatus
from rightscare.supervision.selectors import ClockView, deadlines_of, marks_for_cases, marks_for_work_orders

register = template.Library()

#: The badge each state wears (classes of app.css).
BADGES = {
    ClockState.RUNNING: "badge--muted",
    ClockState.PAUSED: "badge--muted",
    ClockState.WARNING: "badge--warning",
    ClockState.LATE: "badge--warning",
    ClockState.OVERDUE: "badge--late",
    ClockState.MET: "badge--ok",
    ClockState.BREACHED: "badge--late",
    ClockState.CANCELLED: "badge--muted",
}


@register.filter
def clock_badge(state: str) -> str:
    """The badge class of a clock state."""
    return BADGES.get(state, "badge--muted")  # type: ignore[call-overload]


@register.filter
def mark_of(marks: dict[int, ClockView] | None, pk: int) -> ClockView | None:
    """The mark of one row (``marks|mark_of:order.pk``)."""
    return (marks or {}).get(pk)


@register.simple_tag
def work_order_deadline_marks(rows: Any) -> dict[int, ClockView]:
    """``{% work_order_deadline_marks rows as marks %}``: the deadline to show per work order of a list page (one query)."""
    return marks_for_work_orders(list(rows or []))


@register.simple_tag
def case_deadline_marks(cases: Any) -> dict[int, ClockView]:
    """``{% case_deadline_marks page.object_list as marks %}``: the running deadline due first per case (one query)."""
    return marks_for_cases(list(cases or []))


def extension_day_unit_label(order: WorkOrder) -> Any:
    """What an extension of this work order counts: calendar days for letters and visits, else working days."""
    return DayUnit.CALENDAR.label if order.time_class == TimeClass.LETTERS_AND_VISITS else DayUnit.WORKING.label


def _powers(user: Any) -> tuple[set[int], set[int]]:
    grants = access.grants_of(user)
    dispatching = {g.unit_id for g in grants if Capability.DISPATCH_CASES in g.capabilities}
    handling = {g.unit_id for g in grants if Capability.HANDLE_WORK_ORDERS in g.capabilities} | dispatching
    return handling, dispatching


@register.inclusion_tag("supervision/_deadlines.html", takes_context=True)
def work_order_deadlines(context: template.Context, order: WorkOrder) -> dict[str, Any]:
    """The work order's four clocks, its pauses and requests for more time, and what she may do about them."""
    request = context.get("request")
    user = getattr(request, "user", None)
    deadlines = deadlines_of(order)
    handling, dispatching = _powers(user)
    handles = order.unit_id in handling
    if order.parent_id is None:
        sends = order.sent_by_unit_id in dispatching
    else:
        sends = order.parent is not None and order.parent.unit_id in handling
    open_for_handling = order.status in (WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS)
    resolution_running = any(c.kind == ClockKind.RESOLUTION and c.stopped_at is None for c in deadlines.clocks)
    pending = deadlines.pending_extension
    may_decide = pending is not None and (
        sends or (pending.needs_supervisor and access.has_capability(user, Capability.SUPERVISE) and services.may_supervise(user, order))
    )
    return {
        "order": order,
        "deadlines": deadlines,
        "closed_pauses": [p for p in deadlines.pauses if p.ended_at is not None],
        "may_pause": handles and open_for_handling and deadlines.pause is None and any(c.stopped_at is None for c in deadlines.clocks),
        "may_resume": deadlines.pause is not None and (handles or sends),
        "may_extend": handles and open_for_handling and pending is None and resolution_running,
        "may_decide": may_decide,
        "pause_form": PauseForm(auto_id=f"wo{order.pk}-pause-%s"),
        "resume_form": ResumeForm(auto_id=f"wo{order.pk}-resume-%s"),
        "extension_form": ExtensionForm(auto_id=f"wo{order.pk}-extension-%s", day_unit_label=str(extension_day_unit_label(order))),
        "pending_status": ExtensionStatus.PENDING,
    }
