"""The administrators' form for a new channel key."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from rightscare.open311.models import DEFAULT_RATE_LIMIT, KEY_CHANNELS
from rightscare.org.forms import OnceForm


class ChannelKeyForm(OnceForm):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_('Which backend uses it, e.g. "Mini-program backend".'))
    channel = forms.ChoiceField(label=_("Channel"), choices=[(c.value, c.label) for c in KEY_CHANNELS])
    trusted = forms.BooleanField(
        label=_("Trusted: submissions become cases at once"),
        required=False,
        help_text=_("Only for a backend that checks its users itself; needs the public intake service account."),
    )
    rate_limit = forms.IntegerField(label=_("Requests per hour"), min_value=1, max_value=100_000, initial=DEFAULT_RATE_LIMIT)
