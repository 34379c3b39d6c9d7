"""The demo's cases run through the same hooks: every work order of Zhao and Cai has its clocks."""

from __future__ import annotations

import io

import pytest

from rightscare.cases.models import Case, WorkOrder
from rightscare.org.demo import load_demo
from rightscare.supervision.models import ClockKind, StopReason, WorkOrderClock


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    load_demo(stdout=io.StringIO())


def test_every_demo_work_order_has_four_clocks(demo):
    orders = WorkOrder.objects.filter(case__category__code__in=["pregnancy-discrimination", "dv-with-children"])
    assert orders.count() == 8  # Zhao: the district order and two forwarded; Cai: two transferred away, the Guangming lead and two forwarded
    for order in orders:
        assert sorted(WorkOrderClock.objects.filter(work_order=order).values_list("kind", flat=True)) == sorted(ClockKind.values), order


def test_zhao_clocks_all_stopped_as_done_with_their_handling_time(demo):
    zhao = Case.objects.get(category__code="pregnancy-discrimination")
    rows = WorkOrderClock.objects.filter(work_order__case=zhao)
    assert rows.count() == 12
    assert set(rows.values_list("stop_reason", flat=True)) == {StopReason.DONE}
    assert not rows.filter(elapsed_working_seconds__isnull=True).exists()


def test_cai_transferred_orders_stopped_and_guangming_runs(demo):
    cai = Case.objects.get(category__code="dv-with-children")
    transferred = WorkOrderClock.objects.filter(work_order__case=cai, work_order__status="transferred", stopped_at__isnull=True)
    assert not transferred.exists()
    assert set(
        WorkOrderClock.objects.filter(work_order__case=cai, work_order__status="transferred", kind=ClockKind.RESOLUTION).values_list("stop_reason", flat=True)
    ) == {StopReason.TRANSFERRED}
    lead = WorkOrder.objects.get(case=cai, unit__name="光明区妇联")
    # Received by transfer and signed for at once; in progress since the first contact.
    assert WorkOrderClock.objects.get(work_order=lead, kind=ClockKind.SIGN_FOR).stop_reason == StopReason.DONE
    assert WorkOrderClock.objects.get(work_order=lead, kind=ClockKind.FIRST_CONTACT).stop_reason == StopReason.DONE
    assert set(WorkOrderClock.objects.filter(work_order=lead, stopped_at__isnull=True).values_list("kind", flat=True)) == {
        ClockKind.UPDATE,
        ClockKind.RESOLUTION,
    }
