"""API operations of the assessment table and the leader's dashboard: the same selectors as the pages.

Both read only what the caller may see (her cases and units) and answer 403 to a caller
who may not read the assessment at all. Rates come with their numerator and denominator,
so a client can check every figure; the satisfaction rate is null with the words
"no ratings yet" while no petitioner in the table has rated.
"""

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from ninja import Field, Query, Router, Schema

from rightscare.assessment import selectors
from rightscare.assessment.forms import FIRST_YEAR, LAST_YEAR, MAX_CUSTOM_DAYS, filters_from
from rightscare.cases.models import Category
from rightscare.core.api_inputs import RecordId
from rightscare.org import access
from rightscare.org.divisions import RegionLevel
from rightscare.org.http import StaffRequest

router = Router(tags=["assessment"])


class AssessmentQuery(Schema):
    period: str = Field("month", pattern="^(month|quarter|year|custom)$", description="month, quarter, year or custom (start and end).")
    year: int | None = Field(None, ge=FIRST_YEAR, le=LAST_YEAR, description="The year of a month, quarter or year (default: this year).")
    month: int | None = Field(None, ge=1, le=12)
    quarter: int | None = Field(None, ge=1, le=4)
    start: datetime.date | None = Field(None, description="First day of a custom period.")
    end: datetime.date | None = Field(None, description="Last day of a custom period (at most three years after the start).")
    region_id: RecordId | None = Field(None, description="Cases located in this region's subtree (confidential locations are never counted by place).")
    category: str = Field("", max_length=60, description="A category code (a first-level one covers its children).")
    level: RegionLevel | None = Field(None, description="Only units whose region is at this level.")


class PeriodOut(Schema):
    kind: str
    first: datetime.date
    last: datetime.date
    label: str


class RateOut(Schema):
    numerator: int
    denominator: int
    value: float | None = Field(..., description="numerator / denominator; null when nothing was counted.")


class SatisfactionOut(Schema):
    numerator: int = Field(0, description="Handled work orders whose case the petitioner rated satisfied (speed and quality 3 or more).")
    denominator: int = Field(0, description="Handled work orders whose case the petitioner rated.")
    value: float | None = Field(None, description="numerator / denominator; null while nobody rated.")
    note: str = Field(..., description='"no ratings yet" while nobody rated, else empty.')


class UnitOut(Schema):
    id: int
    name: str
    level: str
    kind: str


class RowOut(Schema):
    unit: UnitOut | None = Field(..., description="Null for the total of the table.")
    received: int
    dispatched: int
    rates: dict[str, RateOut] = Field(..., description="sign_for, response, on_time_resolution, extension, resolution, rework, return_rate, dispatch_accuracy.")
    satisfaction: SatisfactionOut
    overdue: int
    overdue_working_days: int
    handling_hours_mean: float | None
    handling_hours_p90: float | None
    unruled_returns: int
    justified_returns: int
    composite: float | None = Field(..., description="Weighted composite out of 100.")
    rank: int | None = Field(..., description="Rank among the units at the same level (1 is best).")


class ExclusionOut(Schema):
    id: int
    case_id: int
    case_number: str
    work_order_id: int | None
    requesting_unit_id: int
    reason: str
    decided_at: datetime.datetime | None


class AssessmentOut(Schema):
    period: PeriodOut
    weights: dict[str, int]
    rows: list[RowOut]
    total: RowOut
    exclusions: list[ExclusionOut]
    computed_at: datetime.datetime


class BarOut(Schema):
    key: str
    label: str
    count: int


class TrendOut(Schema):
    month: str
    registered: int
    resolved: int


class OverdueOut(Schema):
    work_order_id: int
    case_id: int
    case_number: str
    unit_id: int
    clock: str
    due_at: datetime.datetime


class DashboardOut(Schema):
    period: PeriodOut
    total: int
    by_status: list[BarOut]
    by_category: list[BarOut]
    by_channel: list[BarOut]
    by_region: list[BarOut]
    confidential_location: int = Field(..., description="Cases left out of by_region because their location is confidential.")
    trend: list[TrendOut]
    overdue_count: int
    overdue: list[OverdueOut]
    assessment: AssessmentOut


def _require_reader(request: StaffRequest) -> None:
    if not selectors.may_read(request.user):
        raise PermissionDenied


def _filters(request: StaffRequest, query: AssessmentQuery) -> selectors.Filters:
    """Filters from the query; unknown or out-of-scope region and category answer 422 naming the field."""
    errors: dict[str, list[str]] = {}
    region = access.visible_regions(request.user).filter(pk=query.region_id).first() if query.region_id else None
    if query.region_id and region is None:
        errors["region_id"] = ["Unknown region."]
    category = Category.objects.filter(code=query.category, valid_until__isnull=True).first() if query.category else None
    if query.category and category is None:
        errors["category"] = ["Unknown category."]
    if query.period == "custom":
        if query.start is None or query.end is None:
            errors["start"] = ["A custom period needs a start and an end."]
        elif query.start > query.end:
            errors["end"] = ["The end is before the start."]
        elif (query.end - query.start).days > MAX_CUSTOM_DAYS or query.start.year < FIRST_YEAR or query.end.year > LAST_YEAR:
            errors["end"] = ["A custom period is at most three years long, between 2000 and 2100."]
    if errors:
        raise ValidationError(errors)
    data = {
        "period": query.period,
        "year": query.year,
        "month": query.month,
        "quarter": query.quarter,
        "start": query.start,
        "end": query.end,
        "region": region,
        "category": category,
        "level": query.level.value if query.level else "",
    }
    return filters_from(data)


def _period(period: selectors.Period) -> dict[str, Any]:
    return {"kind": period.kind, "first": period.first, "last": period.last, "label": period.label}


def _rate(rate: selectors.Rate) -> dict[str, Any]:
    return {"numerator": rate.numerator, "denominator": rate.denominator, "value": rate.as_float()}


def _row(row: selectors.Row) -> dict[str, Any]:
    unit = row.unit
    return {
        "unit": {"id": unit.pk, "name": unit.name, "level": unit.region.level, "kind": unit.kind.code} if unit is not None else None,
        "received": row.received,
        "dispatched": row.dispatched,
        "rates": {key: _rate(rate) for key, rate in selectors.iter_rates(row)},
        "satisfaction": {
            **_rate(row.satisfaction_rate),
            "note": "" if row.satisfaction_rate.denominator else str(selectors.NO_RATINGS),
        },
        "overdue": row.overdue,
        "overdue_working_days": row.overdue_days,
        "handling_hours_mean": float(row.handling_mean_hours) if row.handling_mean_hours is not None else None,
        "handling_hours_p90": row.handling_p90_hours,
        "unruled_returns": row.unruled_returns,
        "justified_returns": row.justified_returns,
        "composite": float(row.composite) if row.composite is not None else None,
        "rank": row.rank,
    }


def _assessment(table: selectors.Assessment) -> dict[str, Any]:
    return {
        "period": _period(table.filters.period),
        "weights": table.weights.as_dict(),
        "rows": [_row(row) for row in table.rows],
        "total": _row(table.total),
        "exclusions": [
            {
                "id": e.pk,
                "case_id": e.case_id,
                "case_number": e.case.number,
                "work_order_id": e.work_order_id,
                "requesting_unit_id": e.requesting_unit_id,
                "reason": e.reason,
                "decided_at": e.decided_at,
            }
            for e in table.exclusions
        ],
        "computed_at": table.computed_at,
    }


@router.get("/assessment", response=AssessmentOut, summary="The assessment table of the caller's scope")
def get_assessment(request: StaffRequest, query: Query[AssessmentQuery]) -> dict[str, Any]:
    """Per unit of the caller's scope: the rates with their counts, overdue work, handling time, the composite and the rank."""
    _require_reader(request)
    return _assessment(selectors.assessment(request.user, _filters(request, query)))


def _bars(items: list[selectors.Bar]) -> list[dict[str, Any]]:
    return [{"key": item.key, "label": item.label, "count": item.count} for item in items]


@router.get("/dashboard", response=DashboardOut, summary="The leader's dashboard figures of the caller's scope")
def get_dashboard(request: StaffRequest, query: Query[AssessmentQuery]) -> dict[str, Any]:
    """Counts by status, category, channel and region; the twelve-month trend; what is overdue now; the assessment."""
    _require_reader(request)
    board = selectors.dashboard(request.user, _filters(request, query))
    return {
        "period": _period(board.filters.period),
        "total": board.total,
        "by_status": _bars(board.by_status),
        "by_category": _bars(board.by_category),
        "by_channel": _bars(board.by_channel),
        "by_region": _bars(board.by_region),
        "confidential_location": board.confidential_location,
        "trend": board.trend,
        "overdue_count": board.overdue_count,
        "overdue": [
            {
                "work_order_id": clock.work_order_id,
                "case_id": clock.work_order.case_id,
                "case_number": clock.work_order.case.number,
                "unit_id": clock.work_order.unit_id,
                "clock": clock.kind,
                "due_at": clock.due_at,
            }
            for clock in board.overdue
        ],
        "assessment": _assessment(board.assessment),
    }
