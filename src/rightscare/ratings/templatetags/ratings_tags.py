"""The case page's panel of rating rounds: ratings, return-visit calls, and the rework and call actions."""

from __future__ import annotations

from typing import Any

from django import template

from rightscare.cases.models import Case
from rightscare.ratings import services
from rightscare.ratings.models import RatingRound, RoundStatus

register = template.Library()


@register.inclusion_tag("ratings/_case_ratings.html", takes_context=True)
def rating_rounds(context: template.Context, case: Case) -> dict[str, Any]:
    """The case's rating rounds (latest first) and what she may do: nothing shown before the first resolution."""
    request = context.get("request")
    user = getattr(request, "user", None)
    rounds = list(RatingRound.objects.filter(case=case).prefetch_related("ratings", "attempts__unit").order_by("-number"))
    if not rounds:
        return {"shown": False}
    latest = rounds[0]
    callable_round = latest.status == RoundStatus.OPEN or (latest.return_visit_since is not None and latest.return_visit_done_at is None)
    return {
        "shown": True,
        "case": case,
        "rounds": rounds,
        "may_rework": user is not None and services.rework_allowed(case) and services.may_rework(user, case),
        "may_call": user is not None and callable_round and services.may_take_ratings(user, case),
        "latest": latest,
    }
