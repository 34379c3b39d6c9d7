"""Pages of safety follow-up: open one, record a review, end one, and the list of follow-ups in her scope.

Cases are loaded through ``Case.objects.visible_to(user)`` and follow-ups through the cases
she may open (404 outside her scope, exactly like a missing record); 403 when she may see
the case but not act on its follow-up. Writes go through :mod:`rightscare.supervision.safety`
inside ``run_once`` (a double click makes one record); a ``ValidationError`` re-renders the
form (422), a ``Conflict`` shows its message (409) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from rightscare.cases.models import Case
from rightscare.core.errors import Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.org.http import StaffRequest
from rightscare.supervision import safety
from rightscare.supervision.forms import SafetyEndForm, SafetyOpenForm, SafetyReviewForm
from rightscare.supervision.models import SafetyFollowUp


def access_case(user: Any, pk: int) -> Case:
    """A case she may open, or 404."""
    try:
        return Case.objects.visible_to(user).select_related("category", "region").get(pk=pk)
    except (Case.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def access_follow_up(user: Any, pk: int) -> SafetyFollowUp:
    """A follow-up of a case she may open, or 404."""
    try:
        return SafetyFollowUp.objects.select_related("case__category", "unit").get(pk=pk, case__in=Case.objects.visible_to(user))
    except (SafetyFollowUp.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def _back_to(case: Case) -> str:
    return reverse("case_detail", args=[case.pk]) + "#safety"


def _submit(request: StaffRequest, *, form: Form, scope: str, create: Callable[[dict[str, Any]], Any], done: str) -> tuple[HttpResponse | None, str]:
    """Run the use case once for the form's key; the redirect on success, or the conflict text."""
    data = form.cleaned_data
    try:
        _result, ran = run_once(user_id=request.user.pk, scope=scope, key=data["idempotency_key"], create=lambda: str(create(data).pk))
    except ValidationError as error:
        apply_errors(form, error)
        return None, ""
    except Conflict as error:
        return None, str(error)
    messages.success(request, done) if ran else messages.info(request, _("This was already done: the form was sent twice."))
    return redirect(_back_to(data["_case"])), ""


def _page(request: StaffRequest, context: dict[str, Any], form: Form, conflict: str) -> HttpResponse:
    status = 409 if conflict else (422 if form.errors else 200)
    return render(request, "supervision/safety_action.html", {**context, "form": form, "conflict": conflict}, status=status)


@login_required
def safety_open(request: StaffRequest, pk: int) -> HttpResponse:
    """Open a safety follow-up on a domestic-violence or child-protection case."""
    case = access_case(request.user, pk)
    if not safety.may_open(request.user, case):
        raise PermissionDenied
    units = safety.unit_choices(case)
    form = SafetyOpenForm(request.POST if request.method == "POST" else None, units=units, default_days=safety.default_review_days())
    if not form.is_bound:
        acting = safety.acting_unit(request.user, case)
        form.initial["unit"] = acting.pk if acting is not None else None
    conflict = ""
    if request.method == "POST" and form.is_valid():
        form.cleaned_data["_case"] = case
        response, conflict = _submit(
            request,
            form=form,
            scope=f"page:safety_open:{case.pk}",
            create=lambda data: safety.open_follow_up(
                case=case, by=request.user, reason=data["reason"], review_every_days=data["review_every_days"], unit=data["unit"]
            ),
            done=_("The safety follow-up is open; the first review is on the case page."),
        )
        if response is not None:
            return response
    context = {"case": case, "title": _("Open a safety follow-up"), "button": _("Open the follow-up")}
    return _page(request, context, form, conflict)


@login_required
def safety_review(request: StaffRequest, pk: int) -> HttpResponse:
    """Record a review of her safety and when to look again."""
    follow_up = access_follow_up(request.user, pk)
    if not safety.may_act(request.user, follow_up):
        raise PermissionDenied
    form = SafetyReviewForm(request.POST if request.method == "POST" else None, default_days=follow_up.review_every_days)
    conflict = ""
    if request.method == "POST" and form.is_valid():
        form.cleaned_data["_case"] = follow_up.case
        response, conflict = _submit(
            request,
            form=form,
            scope=f"page:safety_review:{follow_up.pk}",
            create=lambda data: safety.record_review(
                follow_up=follow_up, by=request.user, risk=data["risk"], note=data["note"], next_review_in_days=data["next_review_in_days"]
            ),
            done=_("The review has been recorded."),
        )
        if response is not None:
            return response
    context = {"case": follow_up.case, "follow_up": follow_up, "title": _("Record a safety review"), "button": _("Record the review")}
    return _page(request, context, form, conflict)


@login_required
def safety_end(request: StaffRequest, pk: int) -> HttpResponse:
    """End the follow-up, saying why; the case may then be closed."""
    follow_up = access_follow_up(request.user, pk)
    if not safety.may_end(request.user, follow_up):
        raise PermissionDenied
    form = SafetyEndForm(request.POST if request.method == "POST" else None)
    conflict = ""
    if request.method == "POST" and form.is_valid():
        form.cleaned_data["_case"] = follow_up.case
        response, conflict = _submit(
            request,
            form=form,
            scope=f"page:safety_end:{follow_up.pk}",
            create=lambda data: safety.end_follow_up(follow_up=follow_up, by=request.user, reason=data["reason"]),
            done=_("The safety follow-up has ended."),
        )
        if response is not None:
            return response
    context = {"case": follow_up.case, "follow_up": follow_up, "title": _("End the safety follow-up"), "button": _("End the follow-up")}
    return _page(request, context, form, conflict)


@login_required
@require_GET
def safety_list(request: StaffRequest) -> HttpResponse:
    """Open safety follow-ups of the cases in her scope, the review due first; ``?overdue=1`` for late ones only."""
    if not safety.may_list(request.user):
        raise PermissionDenied
    now = timezone.now()
    rows = safety.follow_ups_visible_to(request.user).open().select_related("case__category", "unit").order_by("next_review_at", "id")
    overdue_only = request.GET.get("overdue") == "1"
    if overdue_only:
        rows = rows.filter(next_review_at__lte=now)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "supervision/safety_list.html", {"page": page, "now": now, "overdue_only": overdue_only})
