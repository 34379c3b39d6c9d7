"""Resolution, satisfaction and rework rates of the hand-built data set with ratings, a rework and
an unreachable case (tests/assessment/dataset.py ``add_ratings``), worked out by hand."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rightscare.assessment import selectors
from rightscare.cases.models import CaseStatus
from rightscare.ratings.models import RoundStatus
from tests.assessment.dataset import NOW

MARCH = selectors.Filters(period=selectors.Period.month(2026, 3))
HOUR = 3600


@pytest.fixture
def table(rated_dataset, personas):
    return selectors.assessment(personas["supervisor"], MARCH, now=NOW)


def _rows(table):
    return {row.unit.name: row for row in table.rows}


def _counts(row, *keys):
    return {key: (row.rates[key].numerator, row.rates[key].denominator) for key in keys}


def test_street_federation_rates_from_ratings(table) -> None:
    street = _rows(table)["坪山街道妇联"]
    assert _counts(street, "resolution", "satisfaction", "rework") == {
        "resolution": (1, 2),  # W1 solved; W2 not solved; W3 unreachable, W4 unrated, W5 open: not counted
        "satisfaction": (1, 2),  # W1 5/5; W2 quality 2 is unsatisfied
        "rework": (1, 4),  # W4 sent back at review, of W1–W4 completed (no rework after a rating here)
    }
    assert street.satisfaction == "50.0% (1/2)"


def test_department_rates_count_the_rework_and_the_latest_rating(table) -> None:
    hr = _rows(table)["坪山区人力资源局"]
    assert _counts(hr, "resolution", "satisfaction", "rework", "on_time_resolution") == {
        "resolution": (1, 1),  # W9's latest rating: partly solved (its first, "not solved", is superseded)
        "satisfaction": (1, 1),  # 3 and 3
        "rework": (1, 1),  # W9 sent back for rework after the rating
        "on_time_resolution": (1, 1),  # the new clock (due Tue 10 Mar 18:00) met on Wed 4 Mar
    }
    assert hr.handling_seconds == 7 * HOUR  # measured from the rework: Tue 10–12, 14–18, Wed 9–10
    # 15·1 + 15·1 + 25·1 + 15·1 + 10·1 + 10·(1 − 1) + 5·(1 − 0) = 85 of 95
    assert hr.composite == Fraction(85 * 100, 95)


def test_total_rates(table) -> None:
    assert _counts(table.total, "resolution", "satisfaction", "rework") == {
        "resolution": (2, 3),  # W1, W9 of W1, W2, W9
        "satisfaction": (2, 3),  # W1, W9 of W1, W2, W9
        "rework": (2, 5),  # W4 (sent back), W9 (reworked) of W1–W4, W9 completed
    }


def test_drill_down_of_the_rating_figures(table, rated_dataset, personas) -> None:
    names = {order.pk: name for name, order in rated_dataset.orders.items()}
    expected = {
        "resolution.num": ["W1", "W9"],
        "resolution.den": ["W1", "W2", "W9"],
        "satisfaction.num": ["W1", "W9"],
        "satisfaction.den": ["W1", "W2", "W9"],
        "rework.num": ["W4", "W9"],
    }
    for key, names_expected in expected.items():
        orders = selectors.figure_work_orders(personas["supervisor"], MARCH, key, now=NOW)
        assert sorted(names[o.pk] for o in orders) == names_expected, key


def test_the_unreachable_case_is_closed_and_the_unrated_one_queued(rated_dataset) -> None:
    w3, w4 = rated_dataset.cases["W3"], rated_dataset.cases["W4"]
    assert w3.status == CaseStatus.CLOSED
    assert w3.rating_rounds.get().status == RoundStatus.UNREACHABLE
    round_w4 = w4.rating_rounds.get()
    assert (round_w4.status, round_w4.return_visit_reason) == (RoundStatus.OPEN, "no_rating")
