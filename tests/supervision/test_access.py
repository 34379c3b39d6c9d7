"""Who may pause, resume, ask for more time and decide: the services refuse everyone else, and change nothing."""

from __future__ import annotations

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from rightscare.cases import services as case_services
from rightscare.org.models import Membership
from rightscare.supervision import services
from rightscare.supervision.models import ClockPause, Extension, ExtensionStatus, WorkOrderClock
from tests.factories import UserFactory
from tests.supervision.clock_helpers import at, frozen, national_calendar, send, sign

pytestmark = pytest.mark.usefixtures("national_calendar")
assert national_calendar

MONDAY_10 = at(2026, 3, 2, 10)


@pytest.fixture(autouse=True)
def _before_the_deadlines():
    """The requests of this module are made on Wednesday 4 March 2026, before the work orders'
    deadlines (more time can only be asked for before the resolution deadline); time runs on."""
    with time_machine.travel(at(2026, 3, 4, 10), tick=True):
        yield


def state() -> tuple:
    return (
        sorted(ClockPause.objects.values_list("pk", "ended_at")),
        sorted(Extension.objects.values_list("pk", "status")),
        sorted(WorkOrderClock.objects.values_list("pk", "due_at", "paused_at", "extended_by_days")),
    )


@pytest.fixture
def order(org, personas):
    return sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))


@pytest.mark.parametrize("who", ["dispatcher", "supervisor", "operator", "handler_twin", "department_handler", "return_visit", "system_admin"])
def test_only_the_handling_unit_pauses_and_asks_for_more_time(order, personas, who):
    before = state()
    with pytest.raises(PermissionDenied):
        services.pause_clocks(work_order=order, by=personas[who], reason_code="petitioner")
    with pytest.raises(PermissionDenied):
        services.request_extension(work_order=order, by=personas[who], days=2, reason="等待材料。")
    assert state() == before


@pytest.mark.parametrize("who", ["operator", "handler_twin", "dispatcher_twin", "supervisor_twin", "return_visit"])
def test_only_the_handling_and_the_sending_unit_resume(order, personas, who):
    services.pause_clocks(work_order=order, by=personas["handler"], reason_code="petitioner")
    before = state()
    with pytest.raises(PermissionDenied):
        services.resume_clocks(work_order=order, by=personas[who])
    assert state() == before


@pytest.mark.parametrize("who", ["handler", "operator", "handler_twin", "dispatcher_twin", "supervisor_twin", "return_visit", "department_handler"])
def test_only_the_sending_unit_or_a_supervisor_decides(order, personas, who):
    extension = services.request_extension(work_order=order, by=personas["handler"], days=2, reason="等待材料。")
    before = state()
    with pytest.raises(PermissionDenied):
        services.decide_extension(extension=extension, by=personas[who], approve=True)
    assert state() == before
    assert Extension.objects.get(pk=extension.pk).status == ExtensionStatus.PENDING


def test_a_forwarded_work_order_is_decided_by_the_unit_that_forwarded_it(order, org, personas):
    with frozen(at(2026, 3, 2, 14)):
        [child] = case_services.forward_work_order(work_order=order, by=personas["handler"], lead=org.units["pingshan_community"])
    committee_handler = UserFactory(username="committee_handler", full_name="社区处理人")
    Membership.objects.create(user=committee_handler, unit=org.units["pingshan_community"], role="handler")
    with frozen(at(2026, 3, 2, 15)):
        child = case_services.sign_for_work_order(work_order=child, by=committee_handler)
        extension = services.request_extension(work_order=child, by=committee_handler, days=2, reason="当事人住院。")
    # The district dispatcher sent the parent, not this one: she is not its sender.
    with pytest.raises(PermissionDenied):
        services.decide_extension(extension=extension, by=personas["dispatcher"], approve=True)
    decided = services.decide_extension(extension=extension, by=personas["handler"], approve=True)
    assert decided.status == ExtensionStatus.APPROVED
