"""Every (state, action) pair of a work order: the legal ones move, the illegal ones are refused
with a clear conflict and change nothing. The table is written out here, not read from the model."""

from decimal import Decimal

import pytest

from rightscare.cases import services
from rightscare.cases.models import Case, Category, RequestType, WorkOrder
from rightscare.org.models import Region, Unit
from tests.cases.test_zhao_case import unit_of

ACTIONS = ("sign_for", "return", "record_first_contact", "complete", "accept", "send_back")
STATES = ("sent", "signed", "in_progress", "completed", "accepted", "returned")

#: (state, action) → resulting state; every pair not listed must be refused.
LEGAL = {
    ("sent", "sign_for"): "signed",
    ("sent", "return"): "returned",
    ("signed", "return"): "returned",
    ("signed", "record_first_contact"): "in_progress",
    ("in_progress", "complete"): "completed",
    ("completed", "accept"): "accepted",
    ("completed", "send_back"): "in_progress",
}


@pytest.fixture
def order_in(demo_org):
    city = demo_org["city.dispatcher"]
    pingshan = demo_org["pingshan.dispatcher"]

    def build(state: str) -> WorkOrder:
        case = services.register_case(
            by=city,
            unit=unit_of(city),
            request_type=RequestType.HELP,
            category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
            summary="拖欠工资。",
            region=Region.objects.get(name="坪山区"),
        )
        lead = Unit.objects.get(kind__code="federation-district", region__name="坪山区")
        [order] = services.dispatch_case(case=case, by=city, dispatching_unit=unit_of(city), lead=lead)
        steps = {
            "sent": [],
            "signed": ["sign_for"],
            "in_progress": ["sign_for", "record_first_contact"],
            "completed": ["sign_for", "record_first_contact", "complete"],
            "accepted": ["sign_for", "record_first_contact", "complete", "accept"],
            "returned": ["return"],
        }[state]
        for step in steps:
            order = act(order, step, pingshan=pingshan, city=city)
        assert order.status == state
        return order

    return build


def act(order: WorkOrder, action: str, *, pingshan, city) -> WorkOrder:
    order = WorkOrder.objects.get(pk=order.pk)
    if action == "sign_for":
        return services.sign_for_work_order(work_order=order, by=pingshan)
    if action == "return":
        return services.return_work_order(work_order=order, by=pingshan, reason="不属于本单位职责。")
    if action == "record_first_contact":
        return services.record_first_contact(work_order=order, by=pingshan, note="已联系。")
    if action == "complete":
        return services.complete_work_order(work_order=order, by=pingshan, result="已处理。", amount_yuan=Decimal("1"))
    if action == "accept":
        return services.review_work_order(work_order=order, by=city, accept=True)
    if action == "send_back":
        return services.review_work_order(work_order=order, by=city, accept=False, comment="请补充材料。")
    raise AssertionError(action)


def snapshot(order: WorkOrder) -> tuple:
    fresh = WorkOrder.objects.get(pk=order.pk)
    return (fresh.status, fresh.version, fresh.signed_at, fresh.completed_at, fresh.returned_at, fresh.reviewed_at, Case.objects.get(pk=fresh.case_id).status)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_transition(order_in, demo_org, state, action):
    order = order_in(state)
    before = snapshot(order)
    if (state, action) in LEGAL:
        moved = act(order, action, pingshan=demo_org["pingshan.dispatcher"], city=demo_org["city.dispatcher"])
        assert moved.status == LEGAL[(state, action)]
        assert moved.version > before[1]
    else:
        with pytest.raises(services.IllegalTransition) as refused:
            act(order, action, pingshan=demo_org["pingshan.dispatcher"], city=demo_org["city.dispatcher"])
        assert str(refused.value)
        assert snapshot(order) == before


def test_return_after_work_started_is_refused(order_in, demo_org):
    order = order_in("in_progress")
    before = snapshot(order)
    with pytest.raises(services.IllegalTransition):
        services.return_work_order(work_order=order, by=demo_org["pingshan.dispatcher"], reason="x")
    assert snapshot(order) == before


def test_return_needs_a_reason(order_in, demo_org):
    order = order_in("sent")
    with pytest.raises(services.ValidationError):
        services.return_work_order(work_order=order, by=demo_org["pingshan.dispatcher"], reason=" ")
    assert WorkOrder.objects.get(pk=order.pk).status == "sent"


def test_return_after_window_is_refused(order_in, demo_org):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    order = order_in("sent")
    with time_machine.travel(timezone.now() + timedelta(days=10)), pytest.raises(services.IllegalTransition):
        services.return_work_order(work_order=WorkOrder.objects.get(pk=order.pk), by=demo_org["pingshan.dispatcher"], reason="晚了")
    assert WorkOrder.objects.get(pk=order.pk).status == "sent"


def test_other_unit_cannot_act(order_in, demo_org):
    order = order_in("sent")
    with pytest.raises(services.PermissionDenied):
        services.sign_for_work_order(work_order=order, by=demo_org["guangming.dispatcher"])
    assert WorkOrder.objects.get(pk=order.pk).status == "sent"


def test_returned_order_is_ruled_once(order_in, demo_org):
    order = order_in("returned")
    city = demo_org["city.dispatcher"]
    ruled = services.rule_on_return(work_order=order, by=city, ruling="justified")
    assert ruled.return_ruling == "justified"
    with pytest.raises(services.IllegalTransition):
        services.rule_on_return(work_order=ruled, by=city, ruling="unjustified")
    assert WorkOrder.objects.get(pk=order.pk).return_ruling == "justified"
