"""The leader's dashboard figures for the hand-built data set, and the API operations."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rightscare.assessment import selectors
from rightscare.cases.models import Case, Category
from rightscare.intake.services import record_contact
from rightscare.supervision.models import Chase, ChaseLevel
from tests.api_client import ApiClient
from tests.assessment.dataset import NOW, at, frozen

MARCH = selectors.Filters(period=selectors.Period.month(2026, 3))


@pytest.fixture
def board(dataset, org, personas):
    with frozen(at(2, 9, 30)):
        record_contact(by=personas["operator"], unit=org.units["pingshan"], channel="hotline", content="来电。", case=dataset.cases["W1"])
    Chase.objects.create(
        work_order=dataset.orders["W5"],
        level=ChaseLevel.SUPERVISION,
        by_unit=org.units["pingshan"],
        by=personas["supervisor"],
        at=NOW,
        needs_answer=True,
        comment="请说明。",
    )
    return selectors.dashboard(personas["supervisor"], MARCH, now=NOW)


def _bars(items):
    return {item.label: item.count for item in items}


def test_counts_by_status_category_channel_and_region(board, org) -> None:
    assert board.total == 11  # W1–W11 registered in March (W12 on 27 February)
    # Resolved: W1–W4, W9; in progress: W5 (signed); dispatched: W10, W11 (sent); registered again: W6–W8 (returned).
    assert {item.key: item.count for item in board.by_status} == {"resolved": 5, "in_progress": 1, "dispatched": 2, "registered": 3}
    top = Category.objects.get(code="wage-arrears", valid_until__isnull=True).parent
    assert [(item.key, item.count) for item in board.by_category] == [(top.code, 11)]
    assert [(item.key, item.count) for item in board.by_channel] == [("", 10), ("hotline", 1)]
    assert _bars(board.by_channel)["12338 hotline"] == 1
    assert [(item.label, item.count) for item in board.by_region] == [("Pingshan Street", 11)]
    assert board.confidential_location == 0


def test_trend_over_twelve_months(board) -> None:
    assert [point["month"] for point in board.trend] == [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
    assert board.trend[-2] == {"month": "2026-02", "registered": 1, "resolved": 0}
    assert board.trend[-1] == {"month": "2026-03", "registered": 11, "resolved": 5}  # W1–W4 and W9 resolved in March
    assert sum(point["registered"] for point in board.trend[:-2]) == 0


def test_overdue_and_supervised_lists(board, dataset) -> None:
    # Running past their due time at Mon 16 Mar 12:00: W5's first contact, update and resolution clocks;
    # all four clocks of W10, W11 (never signed) and W12 (February, never signed).
    assert board.overdue_count == 3 + 4 + 4 + 4
    names = {order.pk: name for name, order in dataset.orders.items()}
    assert sorted({names[clock.work_order_id] for clock in board.overdue}) == ["W10", "W11", "W12", "W5"]
    assert board.overdue[0].work_order_id == dataset.orders["W12"].pk  # the longest overdue first
    assert [(names[chase.work_order_id], chase.level) for chase in board.supervised] == [("W5", "supervision")]


def test_the_twin_district_sees_none_of_it(dataset, personas) -> None:
    twin = selectors.dashboard(personas["supervisor_twin"], MARCH, now=NOW)
    assert twin.total == 1
    assert twin.overdue_count == 0
    assert [(item.label, item.count) for item in twin.by_region] == [("Longhua Street", 1)]


def test_confidential_locations_are_counted_apart(dataset, personas) -> None:
    Case.objects.filter(pk__in=[dataset.cases["W1"].pk, dataset.cases["W2"].pk]).update(location_confidential=True)
    board = selectors.dashboard(personas["supervisor"], MARCH, now=NOW)
    assert [(item.label, item.count) for item in board.by_region] == [("Pingshan Street", 9)]
    assert board.confidential_location == 2
    assert board.total == 11


def test_chart_data_carries_the_same_figures(board) -> None:
    data = selectors.chart_data(board)
    assert data["trend"]["series"][0]["values"][-1] == 11
    assert data["trend"]["series"][1]["values"][-1] == 5
    assert data["region"] == {"labels": ["Pingshan Street"], "values": [11]}


# --- the API ------------------------------------------------------------------------------------


def test_api_assessment_gives_every_figure_with_its_counts(client, personas, dataset, org) -> None:
    api = ApiClient(client, personas["supervisor"])
    with frozen(NOW):
        response = api.get("/assessment", {"period": "month", "year": 2026, "month": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"kind": "month", "first": "2026-03-01", "last": "2026-03-31", "label": "2026-03"}
    rows = {row["unit"]["id"]: row for row in body["rows"]}
    street = rows[org.units["pingshan_street"].pk]
    assert street["rates"]["sign_for"] == {"numerator": 4, "denominator": 5, "value": 0.8}
    assert street["rates"]["dispatch_accuracy"] == {"numerator": 0, "denominator": 0, "value": None}
    assert street["satisfaction"] == {"numerator": 0, "denominator": 0, "value": None, "note": "no ratings yet"}
    assert (street["overdue"], street["overdue_working_days"], street["handling_hours_mean"]) == (2, 6, 30.0)
    assert street["composite"] == float(Fraction(143, 3) * 100 / 70)
    assert street["unit"]["level"] == "street"
    assert body["total"]["unit"] is None
    assert body["total"]["rates"]["dispatch_accuracy"]["value"] == 0.875
    assert [e["case_id"] for e in body["exclusions"]] == [dataset.cases["W10"].pk, dataset.cases["W11"].pk]
    assert body["weights"]["on_time_resolution"] == 25


def test_api_dashboard(client, personas, dataset) -> None:
    api = ApiClient(client, personas["supervisor"])
    with frozen(NOW):
        response = api.get("/dashboard", {"period": "quarter", "year": 2026, "quarter": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 12  # W1–W12
    assert body["overdue_count"] == 15
    assert body["trend"][-1] == {"month": "2026-03", "registered": 11, "resolved": 5}
    assert body["assessment"]["total"]["received"] == 10


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": "custom", "start": "2026-03-01"}, "start"),
        ({"period": "custom", "start": "2026-03-10", "end": "2026-03-01"}, "end"),
        ({"period": "custom", "start": "2020-01-01", "end": "2026-03-01"}, "end"),
        ({"category": "no-such-category"}, "category"),
    ],
)
def test_api_refuses_bad_filters(client, personas, dataset, query, field) -> None:
    response = ApiClient(client, personas["supervisor"]).get("/assessment", query)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}


def test_api_a_region_out_of_scope_is_unknown(client, personas, dataset, org) -> None:
    response = ApiClient(client, personas["supervisor"]).get("/assessment", {"region_id": org.regions["longhua"].pk})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "region_id", "message": "Unknown region."}]


def test_api_refuses_those_who_may_not_read(client, personas, dataset) -> None:
    for persona in ("handler", "operator", "system_admin"):
        assert ApiClient(client, personas[persona]).get("/assessment").status_code == 403
        assert ApiClient(client, personas[persona]).get("/dashboard").status_code == 403


def test_the_lists_keep_to_the_filters_scope(dataset, org, personas) -> None:
    """The overdue and chased lists hold open work of her units whose case is in the filtered scope.

    With a region chosen a case whose location is confidential drops out of every figure, so its
    work drops out of the lists too — on PostgreSQL the lists test the open work orders gathered
    once against her gathered scope, elsewhere the two conditions each time: the same lists.
    """
    Chase.objects.create(
        work_order=dataset.orders["W10"], level=ChaseLevel.REMINDER, by_unit=org.units["pingshan"], by=personas["supervisor"], at=NOW, comment="催办。"
    )
    everywhere = selectors.dashboard(personas["supervisor"], MARCH, now=NOW)
    assert dataset.orders["W10"].pk in {clock.work_order_id for clock in everywhere.overdue}
    assert [chase.work_order_id for chase in everywhere.supervised] == [dataset.orders["W10"].pk]

    Case.objects.filter(pk=dataset.cases["W10"].pk).update(location_confidential=True)
    street = selectors.Filters(period=MARCH.period, region=org.regions["pingshan_street"])
    board = selectors.dashboard(personas["supervisor"], street, now=NOW)
    names = {order.pk: name for name, order in dataset.orders.items()}
    assert sorted({names[clock.work_order_id] for clock in board.overdue}) == ["W11", "W12", "W5"]
    assert board.overdue_count == 3 + 4 + 4
    assert board.supervised == []
    # Unfiltered, it is hers all the same.
    assert dataset.orders["W10"].pk in {clock.work_order_id for clock in selectors.dashboard(personas["supervisor"], MARCH, now=NOW).overdue}
