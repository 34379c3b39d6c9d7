"""Helpers of the clock tests: instants in Shenzhen's time, work orders sent at a frozen time, the seeded calendar.

Every work order is a Pingshan case registered by the ``operator`` persona's district
federation and dispatched by the ``dispatcher`` persona to the Pingshan street federation
(the ``handler`` persona's unit). The national calendar is seeded from the
``chinese_calendar`` package, so 2026's holidays and make-up working days apply.
"""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from rightscare.cases import services
from rightscare.cases.models import Category, TimeClass, Urgency, WorkOrder
from rightscare.org import calendar_services
from rightscare.supervision.models import WorkOrderClock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime.datetime:
    """An instant in Shenzhen's time."""
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def frozen(instant: datetime.datetime) -> Any:
    """Freeze the clock at ``instant`` (it does not tick)."""
    return time_machine.travel(instant, tick=False)


@pytest.fixture
def national_calendar(db) -> Any:
    """The national calendar with every holiday and make-up working day the package knows."""
    calendar_services.seed_national_calendar()
    return calendar_services.ensure_national_calendar()


def send(org: Any, personas: dict[str, Any], *, when: datetime.datetime, urgency: str = Urgency.NORMAL, time_class: str = TimeClass.STANDARD) -> WorkOrder:
    """A case registered and sent to the Pingshan street federation at ``when`` (its four clocks start then)."""
    with frozen(when):
        case = services.register_case(
            by=personas["operator"],
            unit=org.units["pingshan"],
            request_type="help",
            category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
            summary="拖欠工资三个月。",
            region=org.regions["pingshan_street"],
            urgency=urgency,
        )
        [order] = services.dispatch_case(
            case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"], time_class=time_class
        )
    return WorkOrder.objects.select_related("case", "unit", "sent_by_unit").get(pk=order.pk)


def sign(order: WorkOrder, personas: dict[str, Any], when: datetime.datetime) -> WorkOrder:
    with frozen(when):
        return services.sign_for_work_order(work_order=order, by=personas["handler"])


def contact(order: WorkOrder, personas: dict[str, Any], when: datetime.datetime) -> WorkOrder:
    with frozen(when):
        return services.record_first_contact(work_order=order, by=personas["handler"], note="电话联系。")


def clock(order: WorkOrder, kind: str) -> WorkOrderClock:
    """The work order's clock of ``kind`` as stored now."""
    return WorkOrderClock.objects.select_related("policy", "alternative_policy").get(work_order=order, kind=kind)


def dues(order: WorkOrder) -> dict[str, datetime.datetime]:
    """The due time of each clock, in Shenzhen's time."""
    return {c.kind: c.due_at.astimezone(SHANGHAI) for c in WorkOrderClock.objects.filter(work_order=order)}
