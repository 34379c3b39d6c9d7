"""Forms of the notification pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from rightscare.notifications.events import EVENTS
from rightscare.notifications.rendering import MAX_SUBJECT
from rightscare.notifications.senders import channel_choices


class MessageTemplateForm(forms.Form):
    event = forms.ChoiceField(label=_("Event"))
    channel = forms.ChoiceField(label=_("Channel"), required=False, help_text=_("A template for one channel wins over one for every channel."))
    language = forms.ChoiceField(label=_("Language"))
    subject = forms.CharField(label=_("Subject"), max_length=MAX_SUBJECT)
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Django template syntax: values in double braces, the if and for tags, and text filters such as upper or default. Other tags are refused."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event"].choices = [(code, f"{event.label} ({code})") for code, event in sorted(EVENTS.items())]  # type: ignore[attr-defined]
        self.fields["channel"].choices = [("", _("Every channel")), *channel_choices()]  # type: ignore[attr-defined]
        self.fields["language"].choices = list(settings.LANGUAGES)  # type: ignore[attr-defined]
