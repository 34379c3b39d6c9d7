"""The assessment figures (绩效考核) and the leader's dashboard, computed in the database.

Every figure is a count of work orders under a condition, and the condition is written
once, in :data:`FIGURES`: the table counts with it (``Count(filter=…)`` grouped by unit)
and the drill-down lists the work orders that match it, so a figure and its list can never
disagree. docs/user-guide/assessment.md states each formula for the people assessed.

What is counted
    The work orders *sent* to a unit during the period (``created_at``), of the cases the
    reader may open, to units she may see, less the approved exclusions. A region filter
    keeps the cases located in that region's subtree and never those whose location is
    confidential (a count by place must not tell where she is); a category filter keeps a
    category and its sub-categories, matched by code across versions.

Clocks
    The sign-for, first-contact and resolution clocks of :mod:`rightscare.supervision`
    give each work order an outcome per clock: *met* (stopped by its event by the due
    time, approved extensions included), *missed* (stopped after the due time, marked
    missed by the sweep, running past it now, or paused after it ran out) or neither (still
    running in time, paused in time, or stopped because the work order left the unit in time).

Nothing here loops over work orders or cases in Python: the loops below run over the
rows the database returns per unit, per region or per (deadline day, end day) pair.
"""

from __future__ import annotations

import calendar as stdlib_calendar
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncDate, TruncMonth
from django.db.models.lookups import Lookup
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rightscare.assessment.models import RATE_KEYS, AssessmentWeights, Exclusion, ExclusionStatus
from rightscare.cases.models import AmongIds, CaseEvent, CaseStatus, Category, EventKind, IdArray, OneOf, WorkOrder, WorkOrderStatus
from rightscare.cases.models import Case as CaseRecord
from rightscare.core import memo, workcalendar
from rightscare.org import access
from rightscare.org.calendar_models import WorkingCalendar
from rightscare.org.calendars import spec_of_chain
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability
from rightscare.ratings.models import SATISFIED_FROM, Solved
from rightscare.supervision.models import ClockKind, ExtensionStatus, StopReason
from rightscare.supervision.models import Extension as ClockExtension

#: Who reads the assessment and the dashboard: supervisors, and the federations' dispatchers who supervise their area.
READER_CAPABILITIES: frozenset[Capability] = frozenset({Capability.SUPERVISE, Capability.DISPATCH_CASES})

#: The 90th percentile of handling time, as a fraction (kept exact for the portable query).
PERCENTILE = Fraction(9, 10)

#: What the satisfaction rate says while no petitioner in the table has rated: never a made-up number.
NO_RATINGS = _("no ratings yet")

#: Answers to "was it solved?" that count as resolved (解决): solved, or partly solved.
RESOLVED_ANSWERS = (Solved.YES, Solved.PARTLY)

#: Clock outcomes (see the module docstring).
MET, MISSED = "met", "missed"

#: Statuses of a work order that left its unit: not handled there, so not counted as handled.
LEFT_UNIT = (WorkOrderStatus.RETURNED, WorkOrderStatus.TRANSFERRED)

RECEIVED, SENT = "received", "sent"


def may_read(user: Any) -> bool:
    """Whether she may read the assessment and the dashboard (in her scope)."""
    return any(access.has_capability(user, capability) for capability in READER_CAPABILITIES)


# --- periods --------------------------------------------------------------------------------


class PeriodKind:
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"

    CHOICES = ((MONTH, _("Month")), (QUARTER, _("Quarter")), (YEAR, _("Year")), (CUSTOM, _("Custom dates")))


def local_zone() -> ZoneInfo:
    """The installation's time zone: periods start and end at its midnights."""
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Period:
    """A period of the assessment: ``first`` to ``last`` inclusive, in the installation's time zone."""

    kind: str
    first: datetime.date
    last: datetime.date

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(PeriodKind.MONTH, datetime.date(year, month, 1), datetime.date(year, month, stdlib_calendar.monthrange(year, month)[1]))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first_month = 3 * (quarter - 1) + 1
        last_month = first_month + 2
        return cls(PeriodKind.QUARTER, datetime.date(year, first_month, 1), datetime.date(year, last_month, stdlib_calendar.monthrange(year, last_month)[1]))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(PeriodKind.YEAR, datetime.date(year, 1, 1), datetime.date(year, 12, 31))

    @classmethod
    def custom(cls, first: datetime.date, last: datetime.date) -> Period:
        return cls(PeriodKind.CUSTOM, first, last)

    @classmethod
    def current_month(cls) -> Period:
        today = timezone.localdate(timezone=local_zone())
        return cls.month(today.year, today.month)

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.first, datetime.time(0), tzinfo=local_zone())

    @property
    def end(self) -> datetime.datetime:
        """The first instant after the period."""
        return datetime.datetime.combine(self.last + datetime.timedelta(days=1), datetime.time(0), tzinfo=local_zone())

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.MONTH:
            return f"{self.first:%Y-%m}"
        if self.kind == PeriodKind.QUARTER:
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == PeriodKind.YEAR:
            return f"{self.first.year}"
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


@dataclass(frozen=True)
class Filters:
    """What the assessment and the dashboard are filtered by (all but the period optional)."""

    period: Period
    region: Region | None = None
    category: Category | None = None
    level: str = ""

    def describe(self) -> dict[str, Any]:
        """The filters as plain values (for the audit entry of an export and the API)."""
        return {
            "period": self.period.kind,
            "first": self.period.first.isoformat(),
            "last": self.period.last.isoformat(),
            "region": self.region.pk if self.region else None,
            "category": self.category.code if self.category else "",
            "level": self.level,
        }


# --- rates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A rate as its two counts; ``value`` is exact (a fraction), None when nothing was counted."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def percent(self) -> str:
        """The rate as a percentage with one decimal ("—" when nothing was counted)."""
        value = self.value
        return "—" if value is None else f"{float(value * 100):.1f}%"

    def as_float(self) -> float | None:
        value = self.value
        return None if value is None else float(value)


# --- the conditions behind every figure -------------------------------------------------------


#: The FilteredRelation alias of each clock the assessment reads.
CLOCK_ALIASES = {"sf": ClockKind.SIGN_FOR, "fc": ClockKind.FIRST_CONTACT, "rs": ClockKind.RESOLUTION}

_DONE_REASONS = ["", StopReason.DONE]


def _met(alias: str) -> Q:
    return Q(
        **{
            f"{alias}__stopped_at__isnull": False,
            f"{alias}__stop_reason__in": _DONE_REASONS,
            f"{alias}__breached": False,
            f"{alias}__stopped_at__lte": F(f"{alias}__due_at"),
        }
    )


def _missed(alias: str, now: datetime.datetime) -> Q:
    stopped_late = Q(**{f"{alias}__stopped_at__isnull": False, f"{alias}__stop_reason__in": _DONE_REASONS, f"{alias}__stopped_at__gt": F(f"{alias}__due_at")})
    running_late = Q(**{f"{alias}__stopped_at__isnull": True, f"{alias}__paused_at__isnull": True, f"{alias}__due_at__lte": now})
    # Pausing a clock that has already run out does not undo the miss.
    paused_late = Q(**{f"{alias}__stopped_at__isnull": True, f"{alias}__paused_at__isnull": False, f"{alias}__due_at__lte": F(f"{alias}__paused_at")})
    return Q(**{f"{alias}__breached": True}) | stopped_late | running_late | paused_late


def _outcome(alias: str, now: datetime.datetime) -> Case:
    return Case(When(_met(alias), then=Value(MET)), When(_missed(alias, now), then=Value(MISSED)), default=Value(""), output_field=CharField())


HANDLED = ~Q(status__in=LEFT_UNIT)
#: The petitioner rated the case (its latest rating: after a rework, the rating of the new resolution).
RATED = Q(rated_solved__isnull=False)
SATISFIED = RATED & Q(rated_speed__gte=SATISFIED_FROM, rated_quality__gte=SATISFIED_FROM)
UNRULED_RETURN = Q(status=WorkOrderStatus.RETURNED, return_ruling="")
HANDLING_TIME = Q(rs__stop_reason=StopReason.DONE, rs__elapsed_working_seconds__isnull=False) & HANDLED


@dataclass(frozen=True)
class Figure:
    """One countable figure: which side of the work order it is about and its condition."""

    side: str
    condition: Q
    label: Any


#: Every figure, by the key the table, the drill-down and the exports use.
FIGURES: dict[str, Figure] = {
    "received": Figure(RECEIVED, Q(), _("work orders received")),
    "sign_for.num": Figure(RECEIVED, Q(sf_outcome=MET), _("signed for in time")),
    "sign_for.den": Figure(RECEIVED, Q(sf_outcome__in=[MET, MISSED]), _("sign-for due or done")),
    "response.num": Figure(RECEIVED, Q(fc_outcome=MET), _("first contact in time")),
    "response.den": Figure(RECEIVED, Q(fc_outcome__in=[MET, MISSED]), _("first contact due or done")),
    "on_time_resolution.num": Figure(RECEIVED, Q(rs_outcome=MET), _("completed in time")),
    "on_time_resolution.den": Figure(RECEIVED, Q(rs_outcome__in=[MET, MISSED]), _("resolution due or done")),
    "extension.num": Figure(RECEIVED, HANDLED & Q(extended=True), _("handled with an approved extension")),
    "extension.den": Figure(RECEIVED, HANDLED, _("handled (not returned, not transferred)")),
    "resolution.num": Figure(RECEIVED, HANDLED & RATED & Q(rated_solved__in=RESOLVED_ANSWERS), _("rated solved or partly solved")),
    "resolution.den": Figure(RECEIVED, HANDLED & RATED, _("handled, the case rated by the petitioner")),
    "satisfaction.num": Figure(RECEIVED, HANDLED & SATISFIED, _("rated satisfied (speed and quality 3 or more)")),
    "satisfaction.den": Figure(RECEIVED, HANDLED & RATED, _("handled, the case rated by the petitioner")),
    "rework.num": Figure(RECEIVED, HANDLED & Q(redone=True), _("sent back for more work or for rework")),
    "rework.den": Figure(RECEIVED, HANDLED & Q(completed_at__isnull=False), _("completed at least once")),
    "return_rate.num": Figure(RECEIVED, Q(status=WorkOrderStatus.RETURNED, return_ruling="unjustified"), _("returned, ruled unjustified")),
    "return_rate.den": Figure(RECEIVED, ~UNRULED_RETURN, _("received, less unruled returns")),
    "unruled_returns": Figure(RECEIVED, UNRULED_RETURN, _("returns not ruled on yet")),
    "overdue": Figure(RECEIVED, Q(rs_outcome=MISSED), _("overdue on resolution")),
    "handling": Figure(RECEIVED, HANDLING_TIME, _("completed, with a handling time")),
    "dispatch_accuracy.num": Figure(
        SENT, ~UNRULED_RETURN & ~Q(status=WorkOrderStatus.RETURNED, return_ruling="justified"), _("dispatched, not returned with reason")
    ),
    "dispatch_accuracy.den": Figure(SENT, ~UNRULED_RETURN, _("dispatched, less unruled returns")),
    "justified_returns": Figure(SENT, Q(status=WorkOrderStatus.RETURNED, return_ruling="justified"), _("returned, ruled justified")),
}

#: The rates of the table: (key, label, counts against the unit).
RATES: tuple[tuple[str, Any, bool], ...] = (
    ("sign_for", _("On-time sign-for rate"), False),
    ("response", _("Response rate"), False),
    ("on_time_resolution", _("On-time resolution rate"), False),
    ("extension", _("Extension rate"), False),
    ("resolution", _("Resolution rate"), False),
    ("rework", _("Rework rate"), True),
    ("return_rate", _("Return rate"), True),
    ("dispatch_accuracy", _("Dispatch accuracy"), False),
)
RATE_LABELS = {key: label for key, label, _against in RATES}

#: The labels of the composite's weights (the satisfaction rate has its own column, beside the others).
WEIGHT_LABELS = {**RATE_LABELS, "satisfaction": _("Satisfaction rate")}


def weight_items(weights: AssessmentWeights) -> list[tuple[Any, int]]:
    """(label, weight) of each rate of the composite, in the table's order."""
    return [(WEIGHT_LABELS[key], value) for key, value in weights.as_dict().items()]


def _excluded() -> Exists:
    approved = Exclusion.objects.filter(status=ExclusionStatus.APPROVED)
    return Exists(approved.filter(Q(work_order=OuterRef("pk")) | Q(case=OuterRef("case_id"), work_order__isnull=True)))


def scoped_cases(user: Any, filters: Filters) -> QuerySet[CaseRecord]:
    """The cases she may open, narrowed by the region and category filters (not by the period).

    Built on ``CaseQuerySet.listed_for``: each way she reaches cases is read from its own
    index and the union is computed once, so the work grows with her scope, not with the
    installation (``visible_to``'s OR made every figure read the whole case table).
    """
    cases = CaseRecord.objects.listed_for(user)
    if filters.region is not None:
        # A count by place must not reveal where a case with a confidential location is.
        cases = cases.filter(region__path__startswith=filters.region.path, location_confidential=False)
    if filters.category is not None:
        code = filters.category.code
        cases = cases.filter(Q(category__code=code) | Q(category__parent__code=code))
    return cases


class _Gathered:
    """Her scope's cases read once: each id with when it was registered and resolved (seconds since the epoch).

    The times come as numbers, not datetimes: Django reads ``timestamptz`` values with a
    loader written in Python, half a second for a city's 65,000 cases × two columns.
    """

    def __init__(self, rows: list[tuple[int, float, float | None]]) -> None:
        self.rows = rows
        self.ids = IdArray(row[0] for row in rows)
        self._id_set: frozenset[int] | None = None
        self._between: dict[tuple[str, datetime.datetime, datetime.datetime], IdArray] = {}

    @property
    def id_set(self) -> frozenset[int]:
        """Her scope's case ids as a set (made once)."""
        if self._id_set is None:
            self._id_set = frozenset(row[0] for row in self.rows)
        return self._id_set

    def between(self, field: str, start: datetime.datetime, end: datetime.datetime) -> IdArray:
        """The ids of the cases whose ``created_at`` or ``resolved_at`` falls in [start, end)."""
        key = (field, start, end)
        if key not in self._between:
            first, after = start.timestamp(), end.timestamp()
            if field == "created_at":
                ids = (pk for pk, created, _resolved in self.rows if first <= created < after)
            else:
                ids = (pk for pk, _created, resolved in self.rows if resolved is not None and first <= resolved < after)
            self._between[key] = IdArray(ids)
        return self._between[key]


def _epoch(field: str) -> Func:
    """``field`` (a ``timestamptz``) as seconds since the epoch, a float (PostgreSQL)."""
    return Func(F(field), template="EXTRACT(EPOCH FROM %(expressions)s)::float8", output_field=FloatField())


def one_gathering() -> Any:
    """Within this block (or decorated function) her scope is gathered once and every query tests rows against that list.

    The dashboard and the table run 10–30 queries over the same scope; as a subquery each
    one gathered the same ids again (for a city, tens of thousands of them: seconds per page
    at a million cases). Inside the block, on PostgreSQL, the first query that needs the
    scope reads her cases once (ids, registration and resolution times) and her units' ids,
    and the others pass the ids as one array parameter (``cases.models.AmongIds``) — the
    queries over cases of a period only the ids of that period. Built on
    ``rightscare.core.memo``: nested blocks share the outer one's reads. Only for reads: rows
    created inside the block after the gathering are not in it.
    """
    return memo.one_read_each()


def _gathering(user: Any, filters: Filters) -> _Gathered | None:
    """Her scope as gathered for the current ``one_gathering`` block (None outside one, and on SQLite)."""
    if not memo.active() or connection.vendor != "postgresql":
        return None

    def read() -> _Gathered:
        rows = (
            scoped_cases(user, filters)
            .order_by()
            .annotate(created=_epoch("created_at"), resolved=_epoch("resolved_at"))
            .values_list("pk", "created", "resolved")
        )
        # Straight from the cursor: psycopg reads float8 as floats already, and Django's converters
        # (a Python call per value) cost 20–30 ms for a city's 65,000 rows.
        sql, params = rows.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return _Gathered(cursor.fetchall())

    return memo.remembered(("assessment scope", user.pk, filters), read)


def _scope_ids(user: Any, filters: Filters) -> IdArray | None:
    """Her scope's case ids for the current ``one_gathering`` block (None outside one, and on SQLite).

    When the block has gathered her cases with their times already (the dashboard), their ids;
    otherwise, for the whole scope (no region or category filter, which test columns of the
    cases), only the ids (``CaseQuerySet.listed_ids``: the UNION of the ways she reaches cases,
    without fetching each case — 175 → about 60 ms for a city at a million cases); with a
    filter, the gathering with times.
    """
    if not memo.active() or connection.vendor != "postgresql":
        return None
    gathered = memo.peek(("assessment scope", user.pk, filters))
    if gathered is not None:
        return gathered.ids
    if filters.region is None and filters.category is None:
        return memo.remembered(("assessment scope ids", user.pk), lambda: IdArray(CaseRecord.objects.listed_ids(user)))
    gathering = _gathering(user, filters)
    return gathering.ids if gathering is not None else None


def in_scope(user: Any, filters: Filters, case_field: str = "case_id") -> Lookup[Any]:
    """The condition "the case in ``case_field`` is in her scope".

    Outside ``one_gathering`` (and on SQLite): ``case_field = ANY(ARRAY(her scope's case ids))``
    on PostgreSQL (``IN`` elsewhere), the ids of ``scoped_cases`` gathered by each query from
    the indexes ``listed_for`` reads. A correlated ``EXISTS`` over ``visible_to`` looked
    cheaper but PostgreSQL planned it as a semi-join over every case in the installation
    (bench/results/2026-12-06-supervision-1m.md). Inside ``one_gathering`` on PostgreSQL:
    the ids gathered once for the block, as one array parameter.
    """
    ids = _scope_ids(user, filters)
    if ids is None:
        return OneOf(F(case_field), scoped_cases(user, filters).order_by().values("pk"))
    return AmongIds(F(case_field), ids)


def cases_in_scope_between(user: Any, filters: Filters, field: str, start: datetime.datetime, end: datetime.datetime) -> Q:
    """The condition, on cases, "in her scope, with ``field`` (``created_at`` or ``resolved_at``) in [start, end)".

    Inside ``one_gathering`` on PostgreSQL the array holds only that period's ids: a year
    of a city's cases is looked up by primary key, not her whole scope.
    """
    period = Q(**{f"{field}__gte": start, f"{field}__lt": end})
    gathered = _gathering(user, filters)
    if gathered is None:
        return period & Q(OneOf(F("pk"), scoped_cases(user, filters).order_by().values("pk")))
    return period & Q(AmongIds(F("pk"), gathered.between(field, start, end)))


def _units_in_scope(user: Any, filters: Filters) -> QuerySet[Unit] | list[int]:
    """The units whose work the table counts: those she may see, at the filter's level.

    Inside ``one_gathering`` on PostgreSQL, their ids read once (a few hundred for a city):
    given a list, PostgreSQL reads each unit's work of the period from the index on (unit,
    created_at); given the subquery, it estimated the units too coarsely and read every
    work order there is.
    """
    units = access.visible_units(user)
    if filters.level:
        units = units.filter(region__level=filters.level)
    if not memo.active() or connection.vendor != "postgresql":
        return units
    return memo.remembered(("assessment units", user.pk, filters), lambda: list(units.order_by().values_list("pk", flat=True)))


#: Work still open at its unit: what the dashboard's overdue and supervised lists show (as the supervision board does).
OPEN_WORK = (WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS)


def open_work(user: Any, filters: Filters, field: str = "work_order_id") -> Q:
    """The condition "the work order in ``field`` is open at a unit she may see, and its case in her scope" (whatever the period).

    Inside ``one_gathering`` on PostgreSQL the open work orders of her units are read once
    (a city's few thousand, ids and cases, from the inbox index on unit and status), kept
    when their case is among her gathered scope, and passed as one short array: the lists
    then test neither a join to every work order her units ever received (200–350 ms at a
    million cases, for each of the two lists) nor her whole scope's case ids per row.
    """
    units = _units_in_scope(user, Filters(period=filters.period))
    orders = WorkOrder.objects.filter(unit__in=units, status__in=OPEN_WORK)
    gathered = _gathering(user, filters)
    if gathered is None:
        return Q(**{f"{field}__in": orders.values("pk")}) & Q(in_scope(user, filters, f"{field.removesuffix('_id')}__case_id"))

    def read() -> IdArray:
        scope = gathered.id_set
        return IdArray(pk for pk, case_id in orders.order_by().values_list("pk", "case_id") if case_id in scope)

    return Q(AmongIds(F(field), memo.remembered(("assessment open work", user.pk, filters), read)))


def work_orders(user: Any, filters: Filters, *, side: str = RECEIVED, now: datetime.datetime | None = None, ratings: bool = True) -> QuerySet[WorkOrder]:
    """The work orders the assessment counts, annotated with what the figures test.

    ``side`` RECEIVED: work orders sent *to* units in her scope during the period;
    SENT: work orders sent *by* them (dispatch accuracy). Approved exclusions are left out.
    Annotations: ``sf_outcome``, ``fc_outcome``, ``rs_outcome`` (met / missed / ""),
    ``extended`` (an approved extension), ``redone`` (sent back for more work, or for rework after
    the petitioner's rating, at least once: one lookup in the index ``case_event_sent_back``), and
    ``rated_solved``, ``rated_speed``, ``rated_quality`` (the case's latest rating; null unrated)
    unless ``ratings`` is False (their join stays in every query of the queryset, used or not).
    """
    now = now or timezone.now()
    unit_field = "unit" if side == RECEIVED else "sent_by_unit"
    orders = WorkOrder.objects.filter(
        created_at__gte=filters.period.start,
        created_at__lt=filters.period.end,
        **{f"{unit_field}__in": _units_in_scope(user, filters)},
    ).filter(in_scope(user, filters))
    orders = orders.exclude(_excluded())
    relations = {alias: FilteredRelation("clocks", condition=Q(clocks__kind=kind)) for alias, kind in CLOCK_ALIASES.items()}
    # The case's latest rating as one join: a subquery here was inlined into every figure that
    # tests it (nine lookups per work order in the table's one query).
    rated: dict[str, Any] = {}
    if ratings:
        relations["latest_rating"] = FilteredRelation("case__ratings", condition=Q(case__ratings__latest=True))
        rated = {f"rated_{name}": F(f"latest_rating__{name}") for name in ("solved", "speed", "quality")}
    return orders.annotate(**relations).annotate(
        sf_outcome=_outcome("sf", now),
        fc_outcome=_outcome("fc", now),
        rs_outcome=_outcome("rs", now),
        extended=Exists(ClockExtension.objects.filter(work_order=OuterRef("pk"), status=ExtensionStatus.APPROVED)),
        redone=Exists(CaseEvent.objects.filter(work_order=OuterRef("pk"), kind__in=[EventKind.SENT_BACK, EventKind.REWORK])),
        **rated,
    )


def figure_work_orders(user: Any, filters: Filters, key: str, *, unit: Unit | None = None, now: datetime.datetime | None = None) -> QuerySet[WorkOrder]:
    """The work orders behind one figure (of one unit, or of the whole table): the drill-down."""
    figure = FIGURES[key]
    orders = work_orders(user, filters, side=figure.side, now=now).filter(figure.condition)
    if unit is not None:
        orders = orders.filter(**{"unit" if figure.side == RECEIVED else "sent_by_unit": unit})
    return orders.select_related("case__category", "case__region", "unit", "sent_by_unit").order_by("created_at", "id")


# --- percentiles ------------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY x)`` (linear interpolation)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: Fraction, **extra: Any) -> None:
        # A constant of the code, written into the SQL as a decimal literal.
        super().__init__(expression, fraction=f"{float(fraction)!r}", **extra)


def _interpolate(values: dict[int, int], size: int) -> float:
    """percentile_cont from the values at the 0-based positions around PERCENTILE·(size − 1)."""
    position = PERCENTILE * (size - 1)
    lower = position.numerator // position.denominator
    upper = lower if position.denominator == 1 else lower + 1
    low, high = values[lower], values.get(upper, values[lower])
    return float(low + (high - low) * (position - lower))


def handling_percentiles(orders: QuerySet[WorkOrder], group: str | None) -> dict[Any, float]:
    """The 90th percentile of the handling time (working seconds) per ``group`` value (None: overall).

    PostgreSQL computes it with ``percentile_cont``. Elsewhere (SQLite has no percentile
    function) one portable query numbers each group's values in order with window
    functions and keeps only the two rows around the percentile's position; the
    interpolation between those two is the same as ``percentile_cont``'s. One query
    either way, however many groups and rows.
    """
    timed = orders.filter(HANDLING_TIME)
    seconds = F("rs__elapsed_working_seconds")
    if connection.vendor == "postgresql":
        if group is None:
            result = timed.order_by().aggregate(p=PercentileCont(seconds, PERCENTILE))
            return {None: result["p"]} if result["p"] is not None else {}
        rows = timed.order_by().values(group).annotate(p=PercentileCont(seconds, PERCENTILE))
        return {row[group]: row["p"] for row in rows}
    partition = [F(group)] if group is not None else []
    numbered = timed.order_by().annotate(
        seconds=seconds,
        position=Window(RowNumber(), partition_by=partition, order_by=[seconds.asc(), F("pk").asc()]),
        size=Window(Count("pk"), partition_by=partition),
    )
    # Keep the rows whose 0-based position lies within one of x = 0.9·(size − 1): they include
    # floor(x) and ceil(x), whatever the rounding of x in the database; the exact
    # interpolation happens below with fractions.
    x = (F("size") - 1) * Value(float(PERCENTILE), output_field=FloatField())
    near = numbered.filter(position__gte=x, position__lte=x + 2)
    found: dict[Any, dict[int, int]] = defaultdict(dict)
    sizes: dict[Any, int] = {}
    for row in near.values(*([group] if group else []), "seconds", "position", "size"):
        key = row[group] if group else None
        found[key][row["position"] - 1] = row["seconds"]
        sizes[key] = row["size"]
    return {key: _interpolate(values, sizes[key]) for key, values in found.items()}


# --- overdue working days ---------------------------------------------------------------------


def _due_and_end_days(now: datetime.datetime) -> tuple[TruncDate, TruncDate]:
    """The resolution clock's due day and end day (the day it stopped, today while it runs), in the installation's time zone."""
    zone = local_zone()
    return TruncDate("rs__due_at", tzinfo=zone), TruncDate(Coalesce("rs__stopped_at", Value(now, output_field=DateTimeField())), tzinfo=zone)


class _Calendars:
    """Working days per region, from every calendar loaded at once (queries: 1 + one per calendar chain in use)."""

    def __init__(self) -> None:
        self._calendars = list(WorkingCalendar.objects.select_related("region"))
        self._specs: dict[tuple[int, ...], workcalendar.CalendarSpec] = {}
        # A table's units lie in a few dozen regions, its overdue rows are thousands: one chain per region.
        self._by_path: dict[str, tuple[tuple[int, ...], workcalendar.CalendarSpec]] = {}
        self._ordinals: dict[tuple[tuple[int, ...], datetime.date, datetime.date], dict[datetime.date, int]] = {}
        self._spans: dict[tuple[tuple[int, ...], datetime.date, datetime.date], list[int]] = {}

    def chain(self, region_path: str) -> list[WorkingCalendar]:
        ids = [int(part) for part in region_path.strip("/").split("/") if part]
        rank = {region_id: position for position, region_id in enumerate(ids, start=1)}
        chain = [c for c in self._calendars if c.region_id is None or c.region_id in rank]
        return sorted(chain, key=lambda c: rank.get(c.region_id, 0) if c.region_id else 0)

    def spec(self, region_path: str) -> tuple[tuple[int, ...], workcalendar.CalendarSpec]:
        found = self._by_path.get(region_path)
        if found is None:
            chain = self.chain(region_path)
            key = tuple(c.pk for c in chain)
            if key not in self._specs:
                self._specs[key] = spec_of_chain(chain)
            found = self._by_path[region_path] = (key, self._specs[key])
        return found

    def working_days_after(self, region_path: str, first: datetime.date, last: datetime.date, *, span: tuple[datetime.date, datetime.date]) -> int:
        """Working days after ``first`` up to and including ``last`` (0 when ``last`` is not after ``first``)."""
        if last <= first:
            return 0
        key, spec = self.spec(region_path)
        ordinals = self._ordinals.get((key, *span))
        if ordinals is None:
            # Running count of working days over the whole span, once per calendar chain.
            ordinals, count, day = {}, 0, span[0]
            while day <= span[1]:
                count += spec.is_working_day(day)
                ordinals[day] = count
                day += datetime.timedelta(days=1)
            self._ordinals[(key, *span)] = ordinals
        return ordinals[last] - ordinals[first]

    def running_counts(self, region_path: str, span: tuple[datetime.date, datetime.date]) -> tuple[tuple[int, ...], list[int]]:
        """The chain's key and its running count of working days for each day of ``span`` (first day first)."""
        key, spec = self.spec(region_path)
        counts, count, day = [], 0, span[0]
        while day <= span[1]:
            count += spec.is_working_day(day)
            counts.append(count)
            day += datetime.timedelta(days=1)
        return key, counts

    def overdue_days_expression(self, region_paths: dict[int, str], *, span: tuple[datetime.date, datetime.date], now: datetime.datetime) -> Any:
        """Per work order overdue on resolution, its overdue working days as SQL (PostgreSQL): what ``overdue_working_days`` counts.

        Each calendar chain in use becomes one array, its running count of working days over
        ``span``, and the days between the due day and the end day are a difference of two of
        its elements; a work order picks its unit's chain (a ``CASE`` when several are in use).
        The caller checks that every due and end day lay within ``span`` (``out_of_span``).
        """
        due, end = _due_and_end_days(now)
        chains: dict[tuple[int, ...], tuple[list[int], list[int]]] = {}
        for unit_id, path in region_paths.items():
            key, counts = self._span_counts(path, span)
            chains.setdefault(key, (counts, []))[1].append(unit_id)
        parts = [(units, _WorkingDaysAfter(due, end, counts=counts, first_day=span[0])) for counts, units in chains.values()]
        if len(parts) == 1:
            return parts[0][1]
        return Case(*(When(unit_id__in=units, then=expression) for units, expression in parts), default=Value(0), output_field=IntegerField())

    def _span_counts(self, region_path: str, span: tuple[datetime.date, datetime.date]) -> tuple[tuple[int, ...], list[int]]:
        key, _spec = self.spec(region_path)
        cached = self._spans.get((key, *span))
        if cached is None:
            cached = self._spans[(key, *span)] = self.running_counts(region_path, span)[1]
        return key, cached


class _WorkingDaysAfter(Func):
    """Working days after the day ``due`` up to and including the day ``end``, from a running count per day (PostgreSQL).

    ``counts[i]`` is the number of working days from ``first_day`` to ``first_day + i``; the
    answer is ``counts[end] − counts[due]``, never below 0 (an end day not after the due day).
    """

    output_field = IntegerField()

    def __init__(self, due: Any, end: Any, *, counts: list[int], first_day: datetime.date) -> None:
        super().__init__(due, end)
        self.counts_literal = "{" + ",".join(map(str, counts)) + "}"
        self.first_day = first_day

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:  # type: ignore[override]
        due_sql, due_params = compiler.compile(self.source_expressions[0])
        end_sql, end_params = compiler.compile(self.source_expressions[1])
        sql = f"GREATEST((%s::int[])[({end_sql}) - %s::date + 1] - (%s::int[])[({due_sql}) - %s::date + 1], 0)"
        return sql, (self.counts_literal, *end_params, self.first_day, self.counts_literal, *due_params, self.first_day)


def overdue_working_days(orders: QuerySet[WorkOrder], *, now: datetime.datetime, region_paths: dict[int, str]) -> dict[int, int]:
    """Working days past the resolution deadline, summed per unit.

    For each work order overdue on resolution: the working days after the day it fell due,
    up to and including the day its clock stopped (today while it runs), on the working
    calendar of the unit's region (as the law counts days: from the next day). The database
    groups the work orders by unit and by (due day, end day), so the arithmetic runs once
    per group, not once per work order. ``region_paths`` gives each unit's region path (the
    caller has the units; joining them here let PostgreSQL misjudge the rows and loop over
    every unit for each work order).
    """
    due_day, end_day = _due_and_end_days(now)
    rows = list(
        orders.filter(FIGURES["overdue"].condition)
        .annotate(due_day=due_day, end_day=end_day)
        .order_by()
        .values("unit_id", "due_day", "end_day")
        .annotate(n=Count("pk"))
    )
    if not rows:
        return {}
    span = (min(row["due_day"] for row in rows), max(row["end_day"] for row in rows))
    calendars = _Calendars()
    totals: dict[int, int] = defaultdict(int)
    for row in rows:
        days = calendars.working_days_after(region_paths[row["unit_id"]], row["due_day"], row["end_day"], span=span)
        totals[row["unit_id"]] += days * row["n"]
    return dict(totals)


# --- the table --------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the assessment table: a unit, or the total of the table."""

    unit: Unit | None
    received: int = 0
    dispatched: int = 0
    rates: dict[str, Rate] = field(default_factory=dict)
    overdue: int = 0
    overdue_days: int = 0
    handling_count: int = 0
    handling_seconds: int = 0
    handling_p90_seconds: float | None = None
    unruled_returns: int = 0
    justified_returns: int = 0
    composite: Fraction | None = None
    rank: int | None = None

    @property
    def level(self) -> str:
        return self.unit.region.level if self.unit is not None else ""

    @property
    def handling_mean_hours(self) -> Fraction | None:
        """Mean handling time in working hours (exact)."""
        return Fraction(self.handling_seconds, self.handling_count * 3600) if self.handling_count else None

    @property
    def handling_p90_hours(self) -> float | None:
        return None if self.handling_p90_seconds is None else self.handling_p90_seconds / 3600

    @property
    def drill_query(self) -> str:
        """The query-string part that narrows a drill-down to this row's unit (none for the total)."""
        return f"&unit={self.unit.pk}" if self.unit is not None else ""

    @property
    def satisfaction_rate(self) -> Rate:
        return self.rates.get("satisfaction", Rate(0, 0))

    @property
    def satisfaction(self) -> Any:
        """The satisfaction rate as shown: "80.0% (4/5)", or the words "no ratings yet" when nobody rated."""
        rate = self.satisfaction_rate
        return f"{rate.percent} ({rate.numerator}/{rate.denominator})" if rate.denominator else NO_RATINGS

    @property
    def composite_score(self) -> str:
        return "—" if self.composite is None else f"{float(self.composite):.1f}"

    def rate_list(self) -> list[tuple[str, Any, bool, Rate]]:
        """(key, label, counts against, rate) in the table's order, for templates."""
        return [(key, label, against, self.rates.get(key, Rate(0, 0))) for key, label, against in RATES]


@dataclass
class Assessment:
    """The assessment table for one set of filters, with what it left out."""

    filters: Filters
    rows: list[Row]
    total: Row
    weights: AssessmentWeights
    exclusions: list[Exclusion]
    computed_at: datetime.datetime


#: The key of the per-unit 90th percentile riding on the received side's counts (PostgreSQL).
P90 = "handling_p90"
#: The keys of the overdue working days riding on them (PostgreSQL), and of the rows outside the days they cover.
OVERDUE_DAYS, OUT_OF_SPAN = "overdue_working_days", "overdue_out_of_span"


def _received_counts(orders: QuerySet[WorkOrder], extra: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every received-side count per unit in one query, and on PostgreSQL the total row and the 90th percentiles too.

    ``percentile_cont`` takes a ``FILTER`` like any aggregate, so on PostgreSQL each unit's
    percentile reads the rows the counts read instead of scanning them again, and the
    grouping is a ``ROLLUP``: the same statement gives the table's total row (unit None)
    with the overall percentile, which a sum of the units' rows cannot give. Elsewhere the
    second value is None: the caller sums the units and reads the percentiles apart.
    """
    keys = [key for key, figure in FIGURES.items() if figure.side == RECEIVED]
    aggregates: dict[str, Any] = {key.replace(".", "__"): Count("pk", filter=FIGURES[key].condition) for key in keys}
    aggregates["handling_seconds"] = Sum("rs__elapsed_working_seconds", filter=HANDLING_TIME)
    if connection.vendor == "postgresql":
        aggregates[P90] = PercentileCont(F("rs__elapsed_working_seconds"), PERCENTILE, filter=HANDLING_TIME)
    aggregates.update(extra or {})
    grouped = orders.order_by().values("unit_id").annotate(**aggregates)
    if connection.vendor != "postgresql":
        return [dict(row) for row in grouped], None
    sql, params = grouped.query.get_compiler(using=grouped.db).as_sql()
    by_unit = " GROUP BY 1"
    if not sql.endswith(by_unit):
        # Not the statement shape this was written for: no total row, the caller sums.
        return [dict(row) for row in grouped], None
    with connection.cursor() as cursor:
        cursor.execute(f"{sql[: -len(by_unit)]} GROUP BY ROLLUP (1)", params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    # The unit of a work order is never null: the row without one is ROLLUP's total.
    return [row for row in rows if row["unit_id"] is not None], next(row for row in rows if row["unit_id"] is None)


def _sent_counts(orders: QuerySet[WorkOrder]) -> list[dict[str, Any]]:
    keys = [key for key, figure in FIGURES.items() if figure.side == SENT]
    aggregates: dict[str, Any] = {key.replace(".", "__"): Count("pk", filter=FIGURES[key].condition) for key in keys}
    aggregates["dispatched"] = Count("pk")
    return [dict(row) for row in orders.order_by().values("sent_by_unit_id").annotate(**aggregates)]


def _fill_received(row: Row, counts: dict[str, Any]) -> None:
    def count(key: str) -> int:
        return int(counts.get(key) or 0)

    row.received = count("received")
    for key in ("sign_for", "response", "on_time_resolution", "extension", "resolution", "satisfaction", "rework", "return_rate"):
        row.rates[key] = Rate(count(f"{key}__num"), count(f"{key}__den"))
    row.overdue = count("overdue")
    row.unruled_returns = count("unruled_returns")
    row.handling_count = count("handling")
    row.handling_seconds = count("handling_seconds")


def composite(rates: dict[str, Rate], weights: dict[str, int]) -> Fraction | None:
    """The weighted composite score out of 100 (exact).

    Σ weight × value / Σ weight over the rates that have a value; a rate that counts
    against the unit (rework, returns) enters as 1 − rate. A rate without a value (the
    satisfaction and resolution rates while nobody rated) leaves its weight out rather than
    scoring zero; a unit with no rate at all has no score.
    """
    total_weight, score = 0, Fraction(0)
    for key in RATE_KEYS:
        weight = weights.get(key, 0)
        rate = rates.get(key)
        value = rate.value if rate is not None else None
        if not weight or value is None:
            continue
        if key in ("rework", "return_rate"):
            value = 1 - value
        total_weight += weight
        score += weight * value
    return score * 100 / total_weight if total_weight else None


def _rank(rows: list[Row]) -> None:
    """Rank the units of each level by composite (1 is best; equal scores share a rank)."""
    by_level: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.composite is not None:
            by_level[row.level].append(row)
    for ranked in by_level.values():
        ranked.sort(key=lambda r: r.composite or 0, reverse=True)
        for index, row in enumerate(ranked):
            previous = ranked[index - 1] if index else None
            row.rank = previous.rank if previous is not None and previous.composite == row.composite else index + 1


def listed_exclusions(user: Any, filters: Filters) -> QuerySet[Exclusion]:
    """The approved exclusions that took work orders of this table's scope and period out of it."""
    in_period = Q(created_at__gte=filters.period.start, created_at__lt=filters.period.end)
    case_has_order = Exists(WorkOrder.objects.filter(in_period, case=OuterRef("case_id")))
    order_in_period = Q(work_order__created_at__gte=filters.period.start, work_order__created_at__lt=filters.period.end)
    return (
        Exclusion.objects.approved()
        .filter(in_scope(user, filters))
        .filter(order_in_period | (Q(work_order__isnull=True) & case_has_order))
        .select_related("case", "work_order__unit", "requesting_unit", "decided_by")
        .order_by("decided_at", "id")
    )


@one_gathering()
def assessment(user: Any, filters: Filters, *, now: datetime.datetime | None = None) -> Assessment:
    """The assessment table in her scope: one row per unit that received or sent work in the period.

    A constant number of queries whatever the number of units and work orders: the
    received side grouped by unit (on PostgreSQL with each unit's percentile, and the total
    row with the overall one by ROLLUP; elsewhere the total is their sum), the sent side
    grouped by sending unit, the percentiles per unit and overall (not on PostgreSQL), the
    overdue days (plus one query per
    working-calendar chain in use), the units, the weights and the exclusions.
    """
    now = now or timezone.now()
    received = work_orders(user, filters, side=RECEIVED, now=now)
    # The percentiles, the overdue days and the sent side test no rating: without its join.
    timed = work_orders(user, filters, side=RECEIVED, now=now, ratings=False)
    sent = work_orders(user, filters, side=SENT, now=now, ratings=False)
    rows: dict[int, Row] = {}

    def row_of(unit_id: int) -> Row:
        return rows.setdefault(unit_id, Row(unit=None))

    extra: dict[str, Any] = {}
    if connection.vendor == "postgresql":
        # The overdue working days ride on the received counts: each unit's calendar chain as a
        # running count of working days over every day a due or end day can fall on (the period's
        # first day to a year after today or the period's end); rows outside it, which only a
        # clock stopped after ``now`` could make, send the table back to the grouped query.
        zone = local_zone()
        span = (filters.period.first, max(filters.period.last, now.astimezone(zone).date()) + datetime.timedelta(days=366))
        units_in_scope: Any = _units_in_scope(user, filters)
        region_paths = dict(Unit.objects.filter(pk__in=units_in_scope).values_list("pk", "region__path"))
        overdue = FIGURES["overdue"].condition
        due_day, end_day = _due_and_end_days(now)
        received = received.annotate(rs_due_day=due_day, rs_end_day=end_day)
        extra = {
            OVERDUE_DAYS: Sum(_Calendars().overdue_days_expression(region_paths, span=span, now=now), filter=overdue),
            OUT_OF_SPAN: Count("pk", filter=overdue & (Q(rs_due_day__lt=span[0]) | Q(rs_end_day__gt=span[1]))),
        }
    received_counts, received_total = _received_counts(received, extra)
    for counts in received_counts:
        _fill_received(row_of(counts["unit_id"]), counts)
    for counts in _sent_counts(sent):
        row = row_of(counts["sent_by_unit_id"])
        row.dispatched = counts["dispatched"]
        row.justified_returns = counts["justified_returns"]
        row.rates["dispatch_accuracy"] = Rate(counts["dispatch_accuracy__num"], counts["dispatch_accuracy__den"])
    if connection.vendor == "postgresql":
        percentiles = {counts["unit_id"]: counts[P90] for counts in received_counts if counts[P90] is not None}
    else:
        percentiles = handling_percentiles(timed, "unit_id")
    for unit_id, seconds in percentiles.items():
        row_of(unit_id).handling_p90_seconds = seconds
    units = Unit.objects.filter(pk__in=list(rows)).select_related("region", "kind").in_bulk()
    for unit_id, row in rows.items():
        row.unit = units[unit_id]
    # A work order overdue on resolution is one received: its unit has a row already.
    if extra and not any(counts[OUT_OF_SPAN] for counts in received_counts):
        for counts in received_counts:
            rows[counts["unit_id"]].overdue_days = int(counts[OVERDUE_DAYS] or 0)
    else:
        for unit_id, days in overdue_working_days(timed, now=now, region_paths={pk: unit.region.path for pk, unit in units.items()}).items():
            rows[unit_id].overdue_days = days

    total = Row(unit=None)
    if received_total is not None:
        # PostgreSQL counted the total in the same statement (ROLLUP), with the overall percentile.
        _fill_received(total, received_total)
        total.handling_p90_seconds = received_total[P90]
    else:
        # Every work order belongs to exactly one unit: the total of each count is the sum of the units'.
        summed: dict[str, int] = defaultdict(int)
        for counts in received_counts:
            for key, value in counts.items():
                if key not in ("unit_id", P90, OVERDUE_DAYS, OUT_OF_SPAN):
                    summed[key] += value or 0
        _fill_received(total, summed)
        total.handling_p90_seconds = handling_percentiles(timed, None).get(None)
    total.dispatched = sum(row.dispatched for row in rows.values())
    total.justified_returns = sum(row.justified_returns for row in rows.values())
    total.rates["dispatch_accuracy"] = Rate(
        sum(row.rates.get("dispatch_accuracy", Rate(0, 0)).numerator for row in rows.values()),
        sum(row.rates.get("dispatch_accuracy", Rate(0, 0)).denominator for row in rows.values()),
    )
    total.overdue_days = sum(row.overdue_days for row in rows.values())

    weights = AssessmentWeights.objects.current()
    weight_map = weights.as_dict()
    for row in rows.values():
        row.composite = composite(row.rates, weight_map)
    total.composite = composite(total.rates, weight_map)
    ordered = sorted(rows.values(), key=lambda r: r.unit.path if r.unit else "")
    _rank(ordered)
    return Assessment(filters=filters, rows=ordered, total=total, weights=weights, exclusions=list(listed_exclusions(user, filters)), computed_at=now)


# --- the leader's dashboard ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: a key, its label and the count."""

    key: str
    label: str
    count: int


@dataclass
class Dashboard:
    """The leader's figures for her scope and the filters."""

    filters: Filters
    total: int
    by_status: list[Bar]
    by_category: list[Bar]
    by_channel: list[Bar]
    by_region: list[Bar]
    confidential_location: int
    trend: list[dict[str, Any]]
    overdue_count: int
    overdue: list[Any]
    supervised: list[Any]
    assessment: Assessment


#: How many months the trend shows, ending with the period's last month.
TREND_MONTHS = 12

#: How many overdue work orders the dashboard lists (the count covers all of them).
OVERDUE_LIST_LENGTH = 20


def _months_back(last: datetime.date, months: int) -> datetime.date:
    index = last.year * 12 + (last.month - 1) - (months - 1)
    return datetime.date(index // 12, index % 12 + 1, 1)


def _region_breakdown(cases: QuerySet[CaseRecord], base: Region | None, user: Any) -> list[Bar]:
    """Cases per child region of ``base`` (or of her top regions), rolled up from one grouped query."""
    if base is None:
        tops = list(Region.objects.filter(path__in=_minimal_paths(set(access.case_scope(user, READER_CAPABILITIES).region_paths))).order_by("path"))
        if len(tops) != 1:
            # Several areas (or none, for a department): one bar per area.
            return _bars_of(cases, tops, None)
        base = tops[0]
    return _bars_of(cases, list(Region.objects.filter(parent=base).order_by("path")), base)


def _bars_of(cases: QuerySet[CaseRecord], regions: list[Region], base: Region | None) -> list[Bar]:
    """One bar per region (its subtree), and one for cases located at ``base`` itself."""
    if not regions and base is None:
        return []
    grouped = cases.exclude(location_confidential=True).order_by().values("region__path").annotate(n=Count("pk"))
    counts: dict[int, int] = defaultdict(int)
    for row in grouped:
        holder = next((region for region in regions if row["region__path"].startswith(region.path)), base)
        if holder is not None:
            counts[holder.pk] += row["n"]
    bars = [Bar(str(region.pk), region.display_name, counts.get(region.pk, 0)) for region in regions]
    if base is not None and counts.get(base.pk):
        bars.insert(0, Bar(str(base.pk), base.display_name, counts[base.pk]))
    return bars


def _minimal_paths(paths: set[str]) -> list[str]:
    return sorted(p for p in paths if not any(p != q and p.startswith(q) for q in paths))


#: How many chased work orders the dashboard lists.
SUPERVISED_LIST_LENGTH = 20


def supervised_work(user: Any, filters: Filters) -> list[Any]:
    """The latest reminders (催办), supervisions (督办) and listings (挂牌督办) of work still open, in her scope."""
    from rightscare.supervision.models import Chase

    chases = Chase.objects.filter(open_work(user, filters))
    return list(chases.select_related("work_order__case", "work_order__unit", "by_unit").order_by("-at", "-id")[:SUPERVISED_LIST_LENGTH])


@one_gathering()
def dashboard(user: Any, filters: Filters, *, now: datetime.datetime | None = None) -> Dashboard:
    """The leader's dashboard: counts by status, category, channel and region for the period, a trend, and the overdue list.

    Counts are of the cases registered in the period in her scope (``scoped_cases``);
    the trend covers the twelve months up to the period's end; the overdue list comes from
    the clocks of ``rightscare.supervision`` (running past their due time now).
    """
    from rightscare.intake.models import Channel, Contact
    from rightscare.supervision.models import WorkOrderClock

    now = now or timezone.now()
    cases = CaseRecord.objects.filter(cases_in_scope_between(user, filters, "created_at", filters.period.start, filters.period.end))
    # One grouped query for the status, category, channel and confidentiality counts: its rows
    # are bounded by the combinations of those values, not by the number of cases.
    first_channel = Contact.objects.filter(case=OuterRef("pk")).order_by("occurred_at", "id").values("channel")[:1]
    groups = list(
        cases.order_by()
        .annotate(top=Coalesce("category__parent_id", "category_id"), channel=Subquery(first_channel))
        .values("status", "top", "channel", "location_confidential")
        .annotate(n=Count("pk"))
    )
    statuses: dict[str, int] = defaultdict(int)
    top_counts: dict[int, int] = defaultdict(int)
    channels: dict[str, int] = defaultdict(int)
    for group in groups:
        statuses[group["status"]] += group["n"]
        top_counts[group["top"]] += group["n"]
        channels[group["channel"] or ""] += group["n"]
    status_labels = dict(CaseStatus.choices)
    by_status = [Bar(status, str(status_labels.get(status, status)), n) for status, n in sorted(statuses.items())]
    total = sum(statuses.values())
    tops = Category.objects.in_bulk(list(top_counts))
    by_category = sorted((Bar(tops[top].code, tops[top].display_name, n) for top, n in top_counts.items() if top in tops), key=lambda b: (-b.count, b.key))
    channel_labels = dict(Channel.choices)
    by_channel = sorted(
        (Bar(channel, str(channel_labels.get(channel, _("Registered directly"))), n) for channel, n in channels.items()), key=lambda b: (-b.count, b.key)
    )
    by_region = _region_breakdown(cases, filters.region, user)
    # With a region chosen, cases with a confidential location are not counted at all.
    confidential_location = sum(group["n"] for group in groups if group["location_confidential"])

    first_month = _months_back(filters.period.last, TREND_MONTHS)
    window_start = datetime.datetime.combine(first_month, datetime.time(0), tzinfo=local_zone())
    zone = local_zone()
    registered = {
        row["month"]: row["n"]
        for row in CaseRecord.objects.filter(cases_in_scope_between(user, filters, "created_at", window_start, filters.period.end))
        .order_by()
        .annotate(month=TruncMonth("created_at", tzinfo=zone))
        .values("month")
        .annotate(n=Count("pk"))
    }
    resolved = {
        row["month"]: row["n"]
        for row in CaseRecord.objects.filter(cases_in_scope_between(user, filters, "resolved_at", window_start, filters.period.end))
        .order_by()
        .annotate(month=TruncMonth("resolved_at", tzinfo=zone))
        .values("month")
        .annotate(n=Count("pk"))
    }

    def month_key(value: Any) -> str:
        return f"{value:%Y-%m}"

    registered_by_month = {month_key(k): v for k, v in registered.items()}
    resolved_by_month = {month_key(k): v for k, v in resolved.items()}
    trend = []
    for offset in range(TREND_MONTHS):
        month = _months_back(filters.period.last, TREND_MONTHS - offset)
        key = f"{month:%Y-%m}"
        trend.append({"month": key, "registered": registered_by_month.get(key, 0), "resolved": resolved_by_month.get(key, 0)})

    # Open work only, as on the supervision board: the units' open work orders are read from
    # their inbox index, instead of every running clock of the installation past its time. The
    # overdue clocks are found from those work orders' clocks (unsorted: sorted by due time, the
    # planner walked every running clock past due in the installation and filtered them) and
    # ordered here; the first rows are then read with what the list shows.
    late = WorkOrderClock.objects.overdue(now).filter(open_work(user, filters)).order_by()
    due = _epoch("due_at") if connection.vendor == "postgresql" else F("due_at")
    ordered = sorted(late.annotate(due=due).values_list("due", "pk"))
    first = [pk for _due, pk in ordered[:OVERDUE_LIST_LENGTH]]
    overdue: list[Any] = list(
        WorkOrderClock.objects.filter(pk__in=first).select_related("work_order__case__category", "work_order__unit").order_by("due_at", "id")
    )
    return Dashboard(
        filters=filters,
        total=total,
        by_status=by_status,
        by_category=by_category,
        by_channel=by_channel,
        by_region=by_region,
        confidential_location=confidential_location,
        trend=trend,
        overdue_count=len(ordered),
        overdue=overdue,
        supervised=supervised_work(user, filters),
        assessment=assessment(user, filters, now=now),
    )


def chart_data(board: Dashboard) -> dict[str, Any]:
    """What the dashboard's charts draw (for a ``json_script`` tag; the chart code is static/js/charts.js)."""

    def bars(items: list[Bar]) -> dict[str, Any]:
        return {"labels": [item.label for item in items], "values": [item.count for item in items]}

    return {
        "trend": {
            "months": [point["month"] for point in board.trend],
            "series": [
                {"name": str(_("Registered")), "values": [point["registered"] for point in board.trend]},
                {"name": str(_("Resolved")), "values": [point["resolved"] for point in board.trend]},
            ],
        },
        "category": bars(board.by_category),
        "channel": bars(board.by_channel),
        "region": bars(board.by_region),
        "status": bars(board.by_status),
    }


def iter_rates(row: Row) -> Iterable[tuple[str, Rate]]:
    """The rates of a row in the table's order."""
    for key, _label, _against in RATES:
        yield key, row.rates.get(key, Rate(0, 0))
