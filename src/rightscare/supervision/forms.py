"""Forms of the deadline pages: pause, resume, ask for more time, decide, and the presets."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rightscare.cases.models import TimeClass, Urgency
from rightscare.org.forms import OnceForm
from rightscare.supervision.models import HANDLER_PAUSE_REASONS, ClockKind, ClockUnit, PauseReason


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
