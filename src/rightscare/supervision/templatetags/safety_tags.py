"""The safety follow-up panel of the case page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from rightscare.cases.models import Case
from rightscare.supervision import safety
from rightscare.supervision.models import SafetyFollowUp

register = template.Library()


@register.inclusion_tag("supervision/_safety.html", takes_context=True)
def safety_follow_up(context: template.Context, case: Case) -> dict[str, Any]:
    """The case's follow-ups (open first), their reviews, and what she may do: nothing for a case that is not sensitive."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not safety.is_eligible(case):
        return {"shown": False}
    follow_ups = list(
        SafetyFollowUp.objects.filter(case=case).select_related("unit", "ended_by").prefetch_related("reviews__unit").order_by("-opened_at", "-id")
    )
    current = next((f for f in follow_ups if f.is_open), None)
    return {
        "shown": True,
        "case": case,
        "current": current,
        "past": [f for f in follow_ups if not f.is_open],
        "now": timezone.now(),
        "may_open": user is not None and current is None and safety.may_open(user, case),
        "may_act": user is not None and current is not None and safety.may_act(user, current),
        "may_end": user is not None and current is not None and safety.may_end(user, current),
    }
