"""Pages of the ratings: the return-visit queue and the record of a call, the rework form, and the
public rating form's endpoint.

Records are loaded through ``Case.objects.visible_to(user)`` (404 outside her scope, exactly like
a missing record); 403 when she may see the case but not do this (with the reason when a
handling unit's officer tries to take its own rating). Writes run inside ``run_once``; a
``ValidationError`` re-renders the form (422), a ``Conflict`` shows its message (409).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rightscare.cases.models import Case
from rightscare.core.errors import AuthorisationError, Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.roles import Capability
from rightscare.ratings import public, services
from rightscare.ratings.forms import PublicRatingForm, ReturnVisitForm, ReworkForm
from rightscare.ratings.models import RatingRound, RoundStatus


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _render(request: HttpRequest, template: str, context: dict[str, Any], form: Form, conflict: str = "", status: int | None = None) -> HttpResponse:
    status = status or (409 if conflict else (422 if form.errors else 200))
    return render(request, template, {**context, "form": form, "conflict": conflict}, status=status)


def access_round(user: Any, pk: int) -> RatingRound:
    """A rating round of a case she may open, or 404."""
    try:
        return RatingRound.objects.select_related("case__category", "case__region", "case__petitioner").get(pk=pk, case__in=Case.objects.visible_to(user))
    except (RatingRound.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def access_case(user: Any, pk: int) -> Case:
    """A case she may open, or 404."""
    try:
        return Case.objects.visible_to(user).select_related("category", "region").get(pk=pk)
    except (Case.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


@login_required
def return_visit_queue(request: StaffRequest) -> HttpResponse:
    """The return visits due in her reach (回访): unrated in time, or unsatisfied; longest waiting first."""
    if not access.has_capability(request.user, Capability.TAKE_RATINGS):
        raise PermissionDenied
    rounds = list(services.return_visit_queue(request.user).prefetch_related("attempts", "ratings")[:200])
    return render(request, "ratings/queue.html", {"rounds": rounds, "max_attempts": services.max_attempts()})


@login_required
def return_visit_record(request: StaffRequest, pk: int) -> HttpResponse:
    """Record one call of a return visit: reached or not, a note, and her rating by phone."""
    round_ = access_round(request.user, pk)
    case = round_.case
    context: dict[str, Any] = {"round": round_, "case": case, "attempts": list(round_.attempts.select_related("by", "unit")), "rating": round_.ratings.first()}
    needs_rating = round_.status == RoundStatus.OPEN
    form = ReturnVisitForm(_posted(request), needs_rating=needs_rating)
    try:
        services.rating_unit(request.user, case)
    except AuthorisationError as error:
        return _render(request, "ratings/visit.html", context, form, status=403, conflict=str(error))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rating = None
        if needs_rating and data["reached"]:
            rating = services.RatingInput(solved=data["solved"], speed=data["speed"], quality=data["quality"], comment=data.get("comment", ""))
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:return_visit:{round_.pk}",
                key=data["idempotency_key"],
                create=lambda: str(services.record_return_visit(round_=round_, by=request.user, reached=data["reached"], note=data["note"], rating=rating).pk),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except AuthorisationError as error:
            return _render(request, "ratings/visit.html", context, form, status=403, conflict=str(error))
        except Conflict as error:
            return _render(request, "ratings/visit.html", context, form, conflict=str(error))
        else:
            if ran:
                messages.success(request, _("The call has been recorded."))
            else:
                messages.info(request, _("This was already done: the form was sent twice."))
            return redirect("return_visit_queue")
    return _render(request, "ratings/visit.html", context, form)


@login_required
def case_rework(request: StaffRequest, pk: int) -> HttpResponse:
    """The dispatching unit sends the case back for rework (重办) after an unsatisfied rating."""
    case = access_case(request.user, pk)
    if not services.may_rework(request.user, case):
        raise PermissionDenied
    latest = services.current_round(case)
    context = {"case": case, "round": latest, "rating": latest.ratings.first() if latest else None}
    form = ReworkForm(_posted(request))
    if not services.rework_allowed(case):
        conflict = _("A case is sent back for rework only after an unsatisfied or unsolved rating of its latest resolution.")
        return _render(request, "ratings/rework.html", context, form, conflict=conflict)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:rework:{case.pk}",
                key=data["idempotency_key"],
                create=lambda: str(services.send_back_for_rework(case=case, by=request.user, reason=data["reason"]).pk),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render(request, "ratings/rework.html", context, form, conflict=str(error))
        else:
            if ran:
                messages.success(request, _("The case has been sent back for rework."))
            else:
                messages.info(request, _("This was already done: the form was sent twice."))
            return redirect(reverse("case_detail", args=[case.pk]))
    return _render(request, "ratings/rework.html", context, form)


@require_POST
def public_rating_submit(request: HttpRequest) -> HttpResponse:
    """The tracking page's rating form (no login): answered in place, with no history entry of its own.

    The form carries a signed token naming the case and the round (see ``ratings.public``);
    a forged or stale token, or a round no longer open, gets a message and changes nothing.
    """
    form = PublicRatingForm(request.POST)
    template = "ratings/_public_form.html" if request.headers.get("HX-Request") else "ratings/public_rating.html"
    # Without htmx the answer is a whole public page: the public layout, with its quick exit.
    context: dict[str, Any] = {"rating_form": form, "rating_action": reverse("public_rating_submit"), "quick_exit_url": settings.PUBLIC_QUICK_EXIT_URL}
    try:
        case_id, number = public.read_token(request.POST.get("token", ""))
    except signing.BadSignature:
        return render(request, template, {**context, "rating_problem": _("This form has expired. Open your tracking page again to rate.")}, status=400)
    case = Case.objects.filter(pk=case_id).first()
    current = services.open_round(case) if case is not None else None
    if case is None or current is None or current.number != number:
        return render(request, template, {**context, "rating_done": True}, status=200 if case is not None else 400)
    context["rating_round"] = current
    if not form.is_valid():
        return render(request, template, context, status=422)
    data = form.cleaned_data
    try:
        public.submit_public_rating(
            case=case, solved=data["solved"], speed=data["speed"], quality=data["quality"], comment=data["comment"], idempotency_key=data["idempotency_key"]
        )
    except ValidationError as error:
        apply_errors(form, error)
        return render(request, template, context, status=422)
    except (Conflict, AuthorisationError):
        return render(request, template, {**context, "rating_done": True}, status=409)
    return render(request, template, {**context, "rating_done": True, "rating_thanks": True})
