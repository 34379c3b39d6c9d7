"""Forms of the assessment pages; choices are always limited to what she may see."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rightscare.assessment.models import RATE_KEYS, AssessmentWeights
from rightscare.assessment.selectors import Filters, Period, PeriodKind, local_zone
from rightscare.cases.forms import CategoryChoiceField, current_categories
from rightscare.cases.models import Category
from rightscare.org import access
from rightscare.org.divisions import RegionLevel
from rightscare.org.forms import OnceForm, RegionChoiceField, UnitChoiceField
from rightscare.org.models import Region, Unit

#: The years a period may fall in.
FIRST_YEAR, LAST_YEAR = 2000, 2100

#: The longest custom period (a longer one belongs in a yearly report).
MAX_CUSTOM_DAYS = 3 * 366


def _taxonomy(categories: Any) -> list[Category]:
    """Each first-level category followed by its sub-categories."""
    rows = list(categories)
    ordered: list[Category] = []
    for top in (c for c in rows if c.parent_id is None):
        ordered += [top, *(c for c in rows if c.parent_id == top.pk)]
    return ordered


class FilterForm(forms.Form):
    """The assessment's and the dashboard's filters: period, region, category, unit level."""

    period = forms.ChoiceField(label=_("Period"), choices=PeriodKind.CHOICES, required=False)
    year = forms.IntegerField(label=_("Year"), min_value=FIRST_YEAR, max_value=LAST_YEAR, required=False)
    month = forms.TypedChoiceField(label=_("Month"), choices=[(m, str(m)) for m in range(1, 13)], coerce=int, required=False, empty_value=None)
    quarter = forms.TypedChoiceField(label=_("Quarter"), choices=[(q, f"Q{q}") for q in range(1, 5)], coerce=int, required=False, empty_value=None)
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    region = RegionChoiceField(label=_("Region"), queryset=Region.objects.none(), required=False)
    category = CategoryChoiceField(label=_("Category"), queryset=Category.objects.none(), required=False)
    level = forms.ChoiceField(label=_("Unit level"), choices=[("", _("Every level")), *RegionLevel.choices], required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = current_categories()
        self.fields["category"].queryset = categories  # type: ignore[attr-defined]
        self.fields["category"].choices = [("", "---------"), *((c.pk, self.fields["category"].label_from_instance(c)) for c in _taxonomy(categories))]  # type: ignore[attr-defined]
        self.fields["region"].queryset = access.visible_regions(user).order_by("path")  # type: ignore[attr-defined]
        today = timezone.localdate(timezone=local_zone())
        self.fields["year"].initial = today.year
        self.fields["month"].initial = today.month

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("period") or PeriodKind.MONTH
        today = timezone.localdate(timezone=local_zone())
        year = data.get("year") or today.year
        if kind == PeriodKind.CUSTOM:
            start, end = data.get("start"), data.get("end")
            if start is None:
                self.add_error("start", _("Give the first day of the period."))
            if end is None:
                self.add_error("end", _("Give the last day of the period."))
            if start and end:
                if start > end:
                    self.add_error("end", _("The end is before the start."))
                elif (end - start).days > MAX_CUSTOM_DAYS:
                    self.add_error("end", _("A custom period is at most three years long."))
                elif not (start.year >= FIRST_YEAR and end.year <= LAST_YEAR):
                    self.add_error("start", _("Choose dates between 2000 and 2100."))
        data["period"] = kind
        data["year"] = year
        return data

    def filters(self) -> Filters:
        """The filters chosen (the current month when the form is empty or invalid)."""
        if not self.is_bound or not self.is_valid():
            return Filters(period=Period.current_month())
        return filters_from(self.cleaned_data)


def filters_from(data: dict[str, Any]) -> Filters:
    """Filters from validated values (the form's or the API's)."""
    today = timezone.localdate(timezone=local_zone())
    kind, year = data.get("period") or PeriodKind.MONTH, data.get("year") or today.year
    if kind == PeriodKind.YEAR:
        period = Period.year(year)
    elif kind == PeriodKind.QUARTER:
        period = Period.quarter(year, data.get("quarter") or (today.month - 1) // 3 + 1)
    elif kind == PeriodKind.CUSTOM:
        period = Period.custom(data["start"], data["end"])
    else:
        period = Period.month(year, data.get("month") or today.month)
    return Filters(period=period, region=data.get("region"), category=data.get("category"), level=data.get("level") or "")


def filter_query(filters: Filters) -> dict[str, str]:
    """The query string that reproduces ``filters`` (for drill-down and export links)."""
    period = filters.period
    query = {"period": period.kind, "year": str(period.first.year)}
    if period.kind == PeriodKind.MONTH:
        query["month"] = str(period.first.month)
    elif period.kind == PeriodKind.QUARTER:
        query["quarter"] = str((period.first.month - 1) // 3 + 1)
    elif period.kind == PeriodKind.CUSTOM:
        query.update(start=period.first.isoformat(), end=period.last.isoformat())
    if filters.region is not None:
        query["region"] = str(filters.region.pk)
    if filters.category is not None:
        query["category"] = str(filters.category.pk)
    if filters.level:
        query["level"] = filters.level
    return query


class ExclusionRequestForm(OnceForm):
    """Ask to leave a case, or one work order of it, out of the assessment."""

    unit = UnitChoiceField(label=_("On behalf of"), queryset=Unit.objects.none())
    work_order = forms.ChoiceField(label=_("What to exclude"), required=False)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text=_("For example: a malicious request, or the same matter already assessed elsewhere. A supervisor decides."),
    )

    def __init__(self, *args: Any, units: Any, orders: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units  # type: ignore[attr-defined]
        self._orders = {str(order.pk): order for order in orders}
        self.fields["work_order"].choices = [  # type: ignore[attr-defined]
            ("", _("The whole case (every unit's work order)")),
            *((pk, f"{order.unit.display_name} · {order.get_role_display()} · {order.get_status_display()}") for pk, order in self._orders.items()),
        ]

    def clean_work_order(self) -> Any:
        value = self.cleaned_data.get("work_order") or ""
        return self._orders.get(value) if value else None


class ExclusionDecisionForm(OnceForm):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve: leave it out of the assessment")), ("refuse", _("Refuse"))], widget=forms.RadioSelect
    )
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, required=False, help_text=_("Required when refusing."))


class WeightsForm(OnceForm):
    """New weights of the composite (whole numbers from 0 to 100)."""

    note = forms.CharField(label=_("Why they change"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)

    def __init__(self, *args: Any, current: AssessmentWeights, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key in RATE_KEYS:
            label = str(getattr(AssessmentWeights._meta.get_field(key), "verbose_name", key))
            self.fields[key] = forms.IntegerField(label=label[:1].upper() + label[1:], min_value=0, max_value=100, initial=getattr(current, key))
        self.order_fields([*RATE_KEYS, "note"])

    def weights(self) -> dict[str, int]:
        return {key: self.cleaned_data[key] for key in RATE_KEYS}
