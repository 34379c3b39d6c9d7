"""The assessment figures of the hand-built data set (tests/assessment/dataset.py), worked out by hand.

Each expected value below is derived in the comment beside it from the times in the data
set's docstring; none is computed by the code under test.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from rightscare.assessment import selectors, services
from rightscare.assessment.models import AssessmentWeights
from rightscare.cases import services as cases_services
from rightscare.cases.models import Category
from tests.assessment.dataset import NOW

HOUR = 3600

MARCH = selectors.Filters(period=selectors.Period.month(2026, 3))


def _rows(table):
    return {row.unit.name: row for row in table.rows}


def _counts(row):
    return {key: (rate.numerator, rate.denominator) for key, rate in row.rates.items()}


@pytest.fixture
def table(dataset, personas):
    return selectors.assessment(personas["supervisor"], MARCH, now=NOW)


def test_street_federation_figures(table) -> None:
    street = _rows(table)["坪山街道妇联"]
    assert street.received == 6  # W1–W6 (W10 excluded, W12 in February)
    assert _counts(street) == {
        "sign_for": (4, 5),  # W1, W3, W4, W5 in time; W2 late; W6 returned before signing counts neither way
        "response": (3, 5),  # W1, W3, W4 in time; W2 late; W5 still without contact past Wed 18:00
        "on_time_resolution": (3, 5),  # W1, W3 (extended to Thu 12), W4; W2 completed late; W5 running past Mon 9 18:00
        "extension": (1, 5),  # W3 of the five handled (W6 returned)
        "resolution": (0, 0),  # no petitioner has rated (see test_rating_figures.py for the data set with ratings)
        "satisfaction": (0, 0),
        "rework": (1, 4),  # W4 sent back, of W1–W4 completed
        "return_rate": (1, 6),  # W6 ruled unjustified, of six received (no unruled return)
    }
    assert street.rates["sign_for"].value == Fraction(4, 5)
    assert street.overdue == 2  # W2 and W5
    assert street.overdue_days == 6  # W2: Tue 10; W5: Tue 10 … Mon 16 (5 working days)
    assert street.handling_count == 4
    assert street.handling_seconds == (11 + 42 + 49 + 18) * HOUR  # W1's pause (4 working hours) left out
    assert street.handling_mean_hours == Fraction(30)  # 120 h / 4
    # 90th percentile of 11, 18, 42, 49 h: position 0.9 × 3 = 2.7, so 42 + 0.7 × (49 − 42) = 46.9 h.
    assert street.handling_p90_seconds == pytest.approx(46.9 * HOUR, abs=1e-6)
    assert street.unruled_returns == 0
    assert street.dispatched == 0
    assert "dispatch_accuracy" not in street.rates
    assert str(street.satisfaction) == "no ratings yet"
    # Weights 15, 15, 25, (resolution 15 and satisfaction 10 left out: nobody rated), 10, 5, (no dispatch accuracy): 70 in all.
    # 15·4/5 + 15·3/5 + 25·3/5 + 10·(1 − 1/4) + 5·(1 − 1/6) = 12 + 9 + 15 + 7.5 + 25/6 = 143/3
    assert street.composite == Fraction(143, 3) * 100 / 70
    assert street.rank == 1  # the only unit at street level


def test_department_figures(table) -> None:
    hr = _rows(table)["坪山区人力资源局"]
    assert hr.received == 3  # W7, W8, W9 (W11 excluded)
    assert _counts(hr) == {
        "sign_for": (1, 1),
        "response": (1, 1),
        "on_time_resolution": (1, 1),
        "extension": (0, 1),
        "resolution": (0, 0),
        "satisfaction": (0, 0),
        "rework": (0, 1),
        "return_rate": (0, 2),  # W7 justified is not the bureau's fault; W8 unruled counts for nobody
    }
    assert hr.unruled_returns == 1  # W8
    assert hr.overdue == hr.overdue_days == 0
    assert hr.handling_mean_hours == Fraction(5)
    assert hr.handling_p90_seconds == 5 * HOUR
    assert hr.composite == 100
    assert hr.rank == 1  # district level: 100 before the district federation's 87.5


def test_sending_unit_dispatch_accuracy(table) -> None:
    district = _rows(table)["坪山区妇联"]
    assert district.received == 0
    assert district.dispatched == 9  # W1–W9 (W10, W11 excluded; W12 in February)
    # 1 − justified / dispatched, unruled returns left out: 1 − 1/8 (W7 justified; W8 unruled)
    assert _counts(district) == {"dispatch_accuracy": (7, 8)}
    assert district.justified_returns == 1
    assert district.composite == Fraction(175, 2)
    assert district.rank == 2


def test_total_of_the_table(table) -> None:
    total = table.total
    assert total.unit is None
    assert total.received == 9
    assert total.dispatched == 9
    assert _counts(total) == {
        "sign_for": (5, 6),
        "response": (4, 6),
        "on_time_resolution": (4, 6),
        "extension": (1, 6),
        "resolution": (0, 0),
        "satisfaction": (0, 0),
        "rework": (1, 5),
        "return_rate": (1, 8),
        "dispatch_accuracy": (7, 8),
    }
    assert total.overdue == 2
    assert total.overdue_days == 6
    assert total.handling_mean_hours == Fraction(25)  # (11 + 42 + 49 + 18 + 5) / 5
    # 5, 11, 18, 42, 49 h: position 0.9 × 4 = 3.6, so 42 + 0.6 × 7 = 46.2 h.
    assert total.handling_p90_seconds == pytest.approx(46.2 * HOUR, abs=1e-6)
    assert total.unruled_returns == 1
    assert total.rank is None


def test_exclusions_are_listed_and_only_approved_ones_count(table, dataset, personas) -> None:
    assert [e.pk for e in table.exclusions] == [dataset.exclusions["whole_case"].pk, dataset.exclusions["work_order"].pk]
    received = {o.pk for o in selectors.figure_work_orders(personas["supervisor"], MARCH, "received", now=NOW)}
    # The pending request on W1 does not take it out; the approved ones take W10 (its whole case) and W11.
    assert dataset.orders["W1"].pk in received
    assert dataset.orders["W10"].pk not in received
    assert dataset.orders["W11"].pk not in received


def test_approving_the_pending_exclusion_takes_w1_out(dataset, personas) -> None:
    supervisor = personas["supervisor"]
    services.decide_exclusion(by=supervisor, exclusion=dataset.exclusions["pending"], approve=True)
    street = _rows(selectors.assessment(supervisor, MARCH, now=NOW))["坪山街道妇联"]
    assert street.received == 5
    assert _counts(street)["sign_for"] == (3, 4)
    assert street.handling_seconds == (42 + 49 + 18) * HOUR


#: The work orders behind each figure of the whole table (the data set's docstring).
DRILL_DOWN = {
    "received": ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"],
    "sign_for.num": ["W1", "W3", "W4", "W5", "W9"],
    "sign_for.den": ["W1", "W2", "W3", "W4", "W5", "W9"],
    "response.num": ["W1", "W3", "W4", "W9"],
    "response.den": ["W1", "W2", "W3", "W4", "W5", "W9"],
    "on_time_resolution.num": ["W1", "W3", "W4", "W9"],
    "on_time_resolution.den": ["W1", "W2", "W3", "W4", "W5", "W9"],
    "extension.num": ["W3"],
    "extension.den": ["W1", "W2", "W3", "W4", "W5", "W9"],
    "resolution.num": [],
    "resolution.den": [],
    "satisfaction.num": [],
    "satisfaction.den": [],
    "rework.num": ["W4"],
    "rework.den": ["W1", "W2", "W3", "W4", "W9"],
    "return_rate.num": ["W6"],
    "return_rate.den": ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W9"],
    "unruled_returns": ["W8"],
    "overdue": ["W2", "W5"],
    "handling": ["W1", "W2", "W3", "W4", "W9"],
    "justified_returns": ["W7"],
    "dispatch_accuracy.num": ["W1", "W2", "W3", "W4", "W5", "W6", "W9"],
    "dispatch_accuracy.den": ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W9"],
}


def test_every_figure_drills_down_to_exactly_its_work_orders(table, dataset, personas) -> None:
    assert set(DRILL_DOWN) == set(selectors.FIGURES)
    names = {order.pk: name for name, order in dataset.orders.items()}
    for key, expected in DRILL_DOWN.items():
        orders = selectors.figure_work_orders(personas["supervisor"], MARCH, key, now=NOW)
        assert sorted(names[o.pk] for o in orders) == expected, key
    # … and each count of the total is the length of its list.
    total = table.total
    for key, rate in total.rates.items():
        assert (rate.numerator, rate.denominator) == (len(DRILL_DOWN[f"{key}.num"]), len(DRILL_DOWN[f"{key}.den"])), key
    assert (total.received, total.overdue, total.unruled_returns, total.handling_count) == (9, 2, 1, 5)


def test_drill_down_of_one_unit(dataset, personas, org) -> None:
    orders = selectors.figure_work_orders(personas["supervisor"], MARCH, "sign_for.den", unit=org.units["pingshan_hr"], now=NOW)
    assert [o.pk for o in orders] == [dataset.orders["W9"].pk]


def test_another_period_counts_only_its_work_orders(dataset, personas) -> None:
    february = selectors.Filters(period=selectors.Period.month(2026, 2))
    table = selectors.assessment(personas["supervisor"], february, now=NOW)
    street = _rows(table)["坪山街道妇联"]
    assert street.received == 1  # W12, sent Friday 27 February, never signed
    assert _counts(street)["sign_for"] == (0, 1)
    assert _counts(street)["response"] == (0, 1)


def test_quarter_and_custom_periods(dataset, personas) -> None:
    quarter = selectors.assessment(personas["supervisor"], selectors.Filters(period=selectors.Period.quarter(2026, 1)), now=NOW)
    assert quarter.total.received == 10  # March's nine and W12
    week = selectors.Period.custom(selectors.Period.month(2026, 3).first, selectors.Period.month(2026, 3).first)
    assert selectors.assessment(personas["supervisor"], selectors.Filters(period=week), now=NOW).total.received == 0  # nothing sent on 1 March


def test_the_twin_district_sees_only_its_own(dataset, personas) -> None:
    twin = selectors.assessment(personas["supervisor_twin"], MARCH, now=NOW)
    assert [row.unit.name for row in twin.rows] == ["龙华区妇联", "龙华街道妇联"]
    assert twin.total.received == 1
    assert _counts(twin.total)["on_time_resolution"] == (1, 1)  # completed Tue 10:00, due Mon 9 18:00
    assert _counts(twin.total)["resolution"] == (0, 0)  # completed but not accepted yet: nothing to rate
    assert twin.exclusions == []


def test_filters_by_level_category_and_region(dataset, personas, org) -> None:
    supervisor = personas["supervisor"]
    street_level = selectors.assessment(supervisor, selectors.Filters(period=MARCH.period, level="street"), now=NOW)
    assert [row.unit.name for row in street_level.rows] == ["坪山街道妇联"]
    other = Category.objects.filter(valid_until__isnull=True, parent__isnull=False).exclude(code="wage-arrears").first()
    assert selectors.assessment(supervisor, selectors.Filters(period=MARCH.period, category=other), now=NOW).total.received == 0
    wages = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    assert selectors.assessment(supervisor, selectors.Filters(period=MARCH.period, category=wages.parent), now=NOW).total.received == 9
    region = selectors.assessment(supervisor, selectors.Filters(period=MARCH.period, region=org.regions["pingshan_community"]), now=NOW)
    assert region.total.received == 0  # every case is in the Pingshan street, none in the community


def test_confidential_locations_are_never_counted_by_place(dataset, personas, org) -> None:
    from rightscare.cases.models import Case

    Case.objects.filter(pk=dataset.cases["W1"].pk).update(location_confidential=True)
    supervisor = personas["supervisor"]
    by_place = selectors.assessment(supervisor, selectors.Filters(period=MARCH.period, region=org.regions["pingshan_street"]), now=NOW)
    assert by_place.total.received == 8
    assert selectors.assessment(supervisor, MARCH, now=NOW).total.received == 9


def test_new_weights_change_the_composite(dataset, personas) -> None:
    services.save_weights(
        by=personas["system_admin"],
        weights={
            "sign_for": 1,
            "response": 0,
            "on_time_resolution": 0,
            "resolution": 0,
            "satisfaction": 0,
            "rework": 0,
            "return_rate": 0,
            "dispatch_accuracy": 0,
        },
        note="只看签收。",
    )
    table = selectors.assessment(personas["supervisor"], MARCH, now=NOW)
    rows = _rows(table)
    assert rows["坪山街道妇联"].composite == 80
    assert rows["坪山区人力资源局"].composite == 100
    assert rows["坪山区妇联"].composite is None  # no rate with a weight
    assert rows["坪山区妇联"].rank is None
    assert AssessmentWeights.objects.count() == 1


def test_composite_leaves_out_rates_without_a_value() -> None:
    rates = {"sign_for": selectors.Rate(1, 2), "rework": selectors.Rate(1, 4), "response": selectors.Rate(0, 0)}
    weights = {"sign_for": 10, "response": 50, "satisfaction": 30, "rework": 10}
    # (10·1/2 + 10·3/4) / 20 × 100
    assert selectors.composite(rates, weights) == Fraction(125, 2)
    assert selectors.composite({}, weights) is None


def test_ranks_share_a_place_on_equal_scores() -> None:
    from types import SimpleNamespace

    def row(score):
        unit = SimpleNamespace(region=SimpleNamespace(level="street"), pk=score)
        return selectors.Row(unit=unit, composite=Fraction(score))  # type: ignore[arg-type]

    rows = [row(70), row(90), row(90), row(50)]
    selectors._rank(rows)
    assert [r.rank for r in rows] == [3, 1, 1, 4]


def test_a_pause_in_time_counts_neither_way_but_a_late_pause_keeps_the_miss(dataset, org, personas) -> None:
    from rightscare.supervision import services as supervision
    from tests.assessment.dataset import _dispatch, at, frozen

    handler = personas["handler"]
    # W13: signed Mon 11:00 and paused at Mon 12:00 (waiting for a court), still paused now.
    _case, w13 = _dispatch(org, personas, "pingshan_street", sent=at(2, 10))
    with frozen(at(2, 11)):
        cases_services.sign_for_work_order(work_order=w13, by=handler)
    with frozen(at(2, 12)):
        supervision.pause_clocks(work_order=w13, by=handler, reason_code="court", reason="等待法院裁定。")
    # W5 paused only on Fri 13 Mar: its first-contact (due Wed 4) and resolution (due Mon 9) clocks had run out.
    with frozen(at(13, 10)):
        supervision.pause_clocks(work_order=dataset.orders["W5"], by=handler, reason_code="petitioner")
    street = _rows(selectors.assessment(personas["supervisor"], MARCH, now=NOW))["坪山街道妇联"]
    assert street.received == 7
    assert _counts(street)["sign_for"] == (5, 6)  # W13 signed in time
    assert _counts(street)["response"] == (3, 5)  # unchanged: W13 neither, W5 still missed
    assert _counts(street)["on_time_resolution"] == (3, 5)
    assert street.overdue == 2
