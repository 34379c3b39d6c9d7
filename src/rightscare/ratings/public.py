"""What the public tracking page (``rightscare.petitioners``) uses to let the petitioner rate.

The tracking page identifies her (tracking code and PIN) and then:

* calls :func:`rating_context` — None when nothing waits for a rating, else a context
  to render ``{% include "ratings/_public_form.html" %}`` with;
* the form posts (htmx, answered in place, no history entry) to the view
  ``public_rating_submit``, which needs no login: the form carries a signed token naming
  the case and the round, issued only to a page that identified her, valid for
  ``TOKEN_MAX_AGE`` seconds;
* an API (Open311, mini-program) calls :func:`submit_public_rating` directly.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.urls import reverse

from rightscare.cases.models import Case
from rightscare.core.idempotency import new_key
from rightscare.ratings import services
from rightscare.ratings.forms import PublicRatingForm
from rightscare.ratings.models import Rating

#: How long a rating form stays valid after the tracking page rendered it (seconds).
TOKEN_MAX_AGE = 2 * 3600

_SALT = "rightscare.ratings.public-rating"


def rating_token(case: Case, number: int) -> str:
    """The signed token that lets the form rate round ``number`` of ``case``."""
    return signing.dumps({"case": case.pk, "round": number}, salt=_SALT)


def read_token(token: str) -> tuple[int, int]:
    """The case id and round number of a token (BadSignature / SignatureExpired when forged or stale)."""
    data = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE)
    if not isinstance(data, dict) or not isinstance(data.get("case"), int) or not isinstance(data.get("round"), int):
        raise signing.BadSignature("malformed rating token")
    return data["case"], data["round"]


def rating_context(case: Case) -> dict[str, Any] | None:
    """The template context of the rating form when a round of the case waits for her rating, else None.

    Keys: ``rating_round`` (its ``number``), ``rating_form`` and ``rating_action`` (the URL
    the form posts to). Include ``ratings/_public_form.html`` with it.
    """
    round_ = services.open_round(case)
    if round_ is None:
        return None
    form = PublicRatingForm(initial={"token": rating_token(case, round_.number), "idempotency_key": new_key()})
    return {"rating_round": round_, "rating_form": form, "rating_action": reverse("public_rating_submit")}


def submit_public_rating(*, case: Case, solved: str, speed: int, quality: int, comment: str = "", idempotency_key: str = "") -> Rating:
    """Record her rating of the open round (see :func:`rightscare.ratings.services.submit_public_rating`).

    Raises ValidationError (a bad value, by field) or Conflict (nothing to rate now).
    """
    return services.submit_public_rating(case=case, solved=solved, speed=speed, quality=quality, comment=comment, idempotency_key=idempotency_key)
