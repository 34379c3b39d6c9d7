"""The auditors' search form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from rightscare.audit.models import AuditAction
from rightscare.audit.selectors import AuditFilter, checked_moment, object_types

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class AuditFilterForm(forms.Form):
    """Search the audit log by user, unit, object, action and time."""

    user = forms.CharField(label=_("User"), max_length=150, required=False, help_text=_("A user id, or part of a username or name."))
    unit = forms.CharField(label=_("Unit"), max_length=200, required=False, help_text=_("A unit id, or part of its name."))
    object_type = forms.CharField(
        label=_("Object type"),
        max_length=64,
        required=False,
        help_text=_("For example org.user or org.unit."),
        widget=forms.TextInput(attrs={"list": "audit-object-types", "autocomplete": "off"}),
    )
    object_id = forms.CharField(label=_("Object id"), max_length=64, required=False)
    action = forms.ChoiceField(label=_("Action"), required=False)
    at_from = forms.DateTimeField(label=_("From"), required=False, input_formats=DATETIME_FORMATS, widget=DateTimeLocalInput())
    at_to = forms.DateTimeField(label=_("To"), required=False, input_formats=DATETIME_FORMATS, widget=DateTimeLocalInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.object_types = object_types()
        self.fields["action"].choices = [("", _("All actions")), *AuditAction.choices]  # type: ignore[attr-defined]

    def clean_at_from(self) -> datetime | None:
        return self._moment("at_from")

    def clean_at_to(self) -> datetime | None:
        return self._moment("at_to")

    def _moment(self, name: str) -> datetime | None:
        try:
            return checked_moment(self.cleaned_data.get(name), field=name)
        except ValidationError as error:
            raise ValidationError(error.message_dict[name]) from error

    def criteria(self) -> AuditFilter:
        """The valid fields as a filter (invalid ones are left out and shown as errors)."""
        data = getattr(self, "cleaned_data", {}) if self.is_bound else {}
        return AuditFilter(
            user=data.get("user") or "",
            unit=data.get("unit") or "",
            object_type=data.get("object_type") or "",
            object_id=data.get("object_id") or "",
            action=data.get("action") or "",
            at_from=data.get("at_from"),
            at_to=data.get("at_to"),
        )
