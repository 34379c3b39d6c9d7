"""Forms of the deadline pages: pause, resume, ask for more time, decide, the presets, and safety follow-up."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rightscare.cases.models import TimeClass, Urgency
from rightscare.org.forms import OnceForm
from rightscare.org.models import Unit
from rightscare.supervision.models import HANDLER_PAUSE_REASONS, ClockKind, ClockUnit, PauseReason, RiskLevel


class PauseForm(OnceForm):
    reason_code = forms.ChoiceField(
        label=_("Waiting for"), choices=[(code.value, code.label) for code in HANDLER_PAUSE_REASONS], widget=forms.RadioSelect, initial=PauseReason.PETITIONER
    )
    reason = forms.CharField(
        label=_("Details"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
        help_text=_("E.g. the court's case number, or when the petitioner will be back."),
    )


class ResumeForm(OnceForm):
    """Ending a pause: only the submission key."""


class ExtensionForm(OnceForm):
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=365)
    reason = forms.CharField(label=_("Why more time is needed"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args: Any, day_unit_label: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if day_unit_label:
            self.fields["days"].help_text = day_unit_label


class ExtensionDecisionForm(OnceForm):
    decision = forms.ChoiceField(label=_("Decision"), choices=[("approve", _("Approve")), ("refuse", _("Refuse"))], widget=forms.RadioSelect)
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000, help_text=_("Required when refusing."))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "refuse" and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why the request is refused."))
        return data


class ClockPolicyForm(OnceForm):
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices)
    time_class = forms.ChoiceField(label=_("Time class"), choices=[("", _("Any time class")), *TimeClass.choices], required=False)
    kind = forms.ChoiceField(label=_("Clock"), choices=ClockKind.choices)
    amount = forms.IntegerField(label=_("Amount"), min_value=1, max_value=10000)
    unit = forms.ChoiceField(label=_("Unit"), choices=ClockUnit.choices)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            # A preset keeps what it applies to; only its length changes.
            for name in ("urgency", "time_class", "kind"):
                self.fields[name].disabled = True


class SafetyOpenForm(OnceForm):
    reason = forms.CharField(label=_("Why her safety must be followed up"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    unit = forms.ModelChoiceField(label=_("Responsible unit"), queryset=Unit.objects.none(), empty_label=None)
    review_every_days = forms.IntegerField(label=_("Review every (days)"), min_value=1, max_value=90)

    def __init__(self, *args: Any, units: Any = None, default_days: int = 14, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            unit_field = self.fields["unit"]
            assert isinstance(unit_field, forms.ModelChoiceField)
            unit_field.queryset = units
        self.fields["review_every_days"].initial = default_days


class SafetyReviewForm(OnceForm):
    risk = forms.ChoiceField(label=_("Risk seen"), choices=RiskLevel.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("What was done and seen"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text=_("E.g. a home visit, a call at a safe time, a word with the neighbourhood committee."),
    )
    next_review_in_days = forms.IntegerField(label=_("Next review in (days)"), min_value=1, max_value=90)

    def __init__(self, *args: Any, default_days: int = 14, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["next_review_in_days"].initial = default_days


class SafetyEndForm(OnceForm):
    reason = forms.CharField(
        label=_("Why her safety no longer needs following up"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("E.g. she moved to a safe place, a protection order holds, the child is in care."),
    )
