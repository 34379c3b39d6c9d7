"""Work orders to chase on the test organisation, built through the services (tests of the sweep, the board and the matrix).

Every work order is a Pingshan case registered by the ``operator`` persona's district
federation and dispatched by the ``dispatcher`` persona to the Pingshan street federation
(the ``handler`` persona's unit), whose parent unit is the Pingshan district federation
(the ``supervisor`` persona's) under the Shenzhen city federation.
"""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rightscare.cases import services
from rightscare.cases.models import Category, TimeClass, Urgency, WorkOrder
from rightscare.org.models import User
from rightscare.supervision.chasing import send_reminder
from rightscare.supervision.models import Chase, WorkOrderClock
from tests.factories import OrgTree

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    """An instant in Shenzhen's time."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def dispatched_order(
    org: OrgTree, personas: dict[str, User], *, urgency: str = Urgency.NORMAL, time_class: str = TimeClass.STANDARD, summary: str = "拖欠工资三个月。"
) -> WorkOrder:
    """A case sent now to the Pingshan street federation (its four clocks started)."""
    operator, dispatcher = personas["operator"], personas["dispatcher"]
    case = services.register_case(
        by=operator,
        unit=org.units["pingshan"],
        request_type="help",
        category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
        summary=summary,
        region=org.regions["pingshan_street"],
        urgency=urgency,
    )
    [order] = services.dispatch_case(case=case, by=dispatcher, dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"], time_class=time_class)
    return WorkOrder.objects.select_related("case", "unit").get(pk=order.pk)


def clock(order: WorkOrder, kind: str) -> WorkOrderClock:
    """The work order's clock of ``kind``, as stored now."""
    return WorkOrderClock.objects.select_related("policy").get(work_order=order, kind=kind)


def chase_target(org: OrgTree, personas: dict[str, User]) -> Chase:
    """A Pingshan supervisor's reminder, with a comment the street federation must answer."""
    order = dispatched_order(org, personas, summary="单位拖欠工资，催办目标。")
    return send_reminder(work_order=order, by=personas["supervisor"], comment="请说明为何尚未签收。")


def chasing_path_ids(path: str, org: OrgTree, personas: dict[str, User]) -> dict[str, Any]:
    """The ids a chasing operation's path needs (a chase waiting for the street federation's answer)."""
    return {"chase_id": chase_target(org, personas).pk} if "{chase_id}" in path else {}


@pytest.fixture(autouse=True)
def messages_in_english(settings):
    """Messages are written in the installation's language: English here, so tests read the msgids (autouse where imported)."""
    settings.LANGUAGE_CODE = "en"
