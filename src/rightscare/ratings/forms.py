"""Forms of the ratings: the petitioner's rating, a return-visit call, a rework."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rightscare.org.forms import OnceForm
from rightscare.ratings.models import Solved

SCORES = [(str(n), str(n)) for n in range(1, 6)]


class RatingFields(forms.Form):
    """Solved?, speed, quality, comment: the same questions on the tracking page and on the phone."""

    solved = forms.ChoiceField(label=_("Was your matter solved?"), choices=Solved.choices, widget=forms.RadioSelect)
    speed = forms.TypedChoiceField(
        label=_("Speed of handling"), choices=SCORES, coerce=int, widget=forms.RadioSelect, help_text=_("1 = very poor, 5 = very good.")
    )
    quality = forms.TypedChoiceField(
        label=_("Quality of handling"), choices=SCORES, coerce=int, widget=forms.RadioSelect, help_text=_("1 = very poor, 5 = very good.")
    )
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)


class PublicRatingForm(RatingFields):
    """The rating form of the tracking page: the signed round token and a submission key ride along."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=500)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)


class ReturnVisitForm(OnceForm):
    """One call of a return visit; the rating questions when she was reached and the round is unrated."""

    reached = forms.TypedChoiceField(
        label=_("Outcome of the call"),
        choices=[("yes", _("Reached the petitioner")), ("no", _("Not reached"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)
    solved = forms.ChoiceField(label=_("Solved?"), choices=[("", "—"), *Solved.choices], required=False)
    speed = forms.TypedChoiceField(label=_("Speed (1–5)"), choices=[("", "—"), *SCORES], coerce=int, required=False, empty_value=None)
    quality = forms.TypedChoiceField(label=_("Quality (1–5)"), choices=[("", "—"), *SCORES], coerce=int, required=False, empty_value=None)
    comment = forms.CharField(label=_("Her comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)

    def __init__(self, *args: Any, needs_rating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_rating = needs_rating
        if not needs_rating:
            for name in ("solved", "speed", "quality", "comment"):
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.needs_rating and data.get("reached"):
            for name in ("solved", "speed", "quality"):
                if data.get(name) in (None, ""):
                    self.add_error(name, _("She was reached: record her answer."))
        return data


class ReworkForm(OnceForm):
    reason = forms.CharField(label=_("What must be done again"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
