"""Forms of the integration pages: webhook subscriptions, operator extensions, the delivery log's filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rightscare.integrations.models import DeliveryKind, DeliveryStatus, WebhookEvent
from rightscare.org.models import Region, User


class SubscriptionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.URLField(label=_("Address (URL)"), max_length=500, assume_scheme="https", help_text=_("Deliveries are POSTed here as signed JSON."))
    events = forms.MultipleChoiceField(label=_("Events"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)
    region = forms.ModelChoiceField(
        label=_("Only cases in"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("Every region"),
        help_text=_("Limit the subscription to the cases of one region and the regions below it."),
    )
    secret = forms.CharField(
        label=_("Signing secret"),
        max_length=200,
        required=False,
        help_text=_("Leave empty to generate one (new subscription) or to keep the current one."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.order_by("path")  # type: ignore[attr-defined]


class ExtensionForm(forms.Form):
    extension = forms.CharField(label=_("Extension"), max_length=32)
    user = forms.ModelChoiceField(label=_("Operator"), queryset=User.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by("username")  # type: ignore[attr-defined]


class DeliveryFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("All")), *DeliveryKind.choices], required=False)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("All")), *DeliveryStatus.choices], required=False)
