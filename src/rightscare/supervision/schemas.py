"""API schemas of the deadlines that other apps' schemas embed (the work order's clocks)."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from ninja import Field, Schema

from rightscare.supervision.models import CLOCK_ORDER, ClockKind, ClockState, clock_state


class ClockOut(Schema):
    kind: ClockKind
    due_at: datetime.datetime = Field(..., description="The current deadline: approved extensions and ended pauses included.")
    original_due_at: datetime.datetime = Field(..., description="The deadline as first computed when the clock started.")
    state: ClockState = Field(..., description="running, paused, warning (50 % used), late (80 % used), overdue; met, breached or cancelled once stopped.")
    paused: bool
    extended_by_days: int
    stopped_at: datetime.datetime | None
    breached: bool


def clocks_out(work_order: Any) -> list[dict[str, Any]]:
    """The work order's clocks for the API, in their usual order (uses a prefetched ``clocks`` when there is one)."""
    now = timezone.now()
    rank = {kind: position for position, kind in enumerate(CLOCK_ORDER)}
    return [
        {
            "kind": clock.kind,
            "due_at": clock.due_at,
            "original_due_at": clock.original_due_at,
            "state": clock_state(clock, now),
            "paused": clock.paused_at is not None,
            "extended_by_days": clock.extended_by_days,
            "stopped_at": clock.stopped_at,
            "breached": clock.breached,
        }
        for clock in sorted(work_order.clocks.all(), key=lambda c: rank.get(c.kind, 99))
    ]
