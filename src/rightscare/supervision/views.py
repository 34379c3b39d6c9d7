"""Pages of the deadlines: pause and resume a work order's clocks, ask for more time and decide
on it, and the administrators' pages of the deadline presets.

Work orders and requests are loaded through ``WorkOrder.objects.visible_to(user)`` (404
outside her scope, exactly like a missing record); 403 when she may see the work order but
not do this. Writes go through ``supervision.services`` inside ``run_once`` (a double click
makes one record); a ``ValidationError`` re-renders the form (422), a ``Conflict`` shows its
message (409) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rightscare.cases.models import TimeClass, WorkOrder
from rightscare.core.errors import AuthorisationError, Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.roles import Capability
from rightscare.supervision import services
from rightscare.supervision.forms import ClockPolicyForm, ExtensionDecisionForm, ExtensionForm, PauseForm, ResumeForm
from rightscare.supervision.models import CLOCK_ORDER, ClockPolicy, DayUnit, Extension
from rightscare.supervision.selectors import deadlines_of


def _posted(request: StaffRequest) -> Any:
    return request.POST if request.method == "POST" else None


def access_work_order(user: Any, pk: int) -> WorkOrder:
    """A work order of a case she may open, or 404."""
    try:
        return WorkOrder.objects.visible_to(user).select_related("case__category", "case__region", "unit", "sent_by_unit", "parent__unit").get(pk=pk)
    except (WorkOrder.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def access_extension(user: Any, pk: int) -> Extension:
    """A request for more time on a work order she may see, or 404."""
    try:
        return Extension.objects.select_related("work_order__case__category", "work_order__unit", "work_order__sent_by_unit", "requested_by").get(
            pk=pk, work_order__in=WorkOrder.objects.visible_to(user)
        )
    except (Extension.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def _render(request: StaffRequest, template: str, context: dict[str, Any], form: Form, conflict: str = "") -> HttpResponse:
    status = 409 if conflict else (422 if form.errors else 200)
    return render(request, template, {**context, "form": form, "conflict": conflict}, status=status)


def _back_to(order: WorkOrder) -> str:
    return reverse("case_detail", args=[order.case_id]) + f"#work-order-{order.pk}"


@dataclass(frozen=True)
class DeadlineAction:
    """One action on a work order's deadlines: its form, who may try it, the service it calls."""

    title: Any
    button: Any
    done: Any
    form: Callable[..., Form]
    allowed: Callable[[Any, WorkOrder], bool]
    run: Callable[[StaffRequest, WorkOrder, dict[str, Any]], Any]


def _day_unit_label(order: WorkOrder) -> str:
    return str(DayUnit.CALENDAR.label if order.time_class == TimeClass.LETTERS_AND_VISITS else DayUnit.WORKING.label)


ACTIONS: dict[str, DeadlineAction] = {
    "pause": DeadlineAction(
        title=gettext_lazy("Pause the clocks"),
        button=gettext_lazy("Pause"),
        done=gettext_lazy("The clocks are paused. Resume them when the wait is over."),
        form=lambda order, *args, **kwargs: PauseForm(*args, **kwargs),
        allowed=services.may_handle,
        run=lambda request, order, data: services.pause_clocks(work_order=order, by=request.user, reason_code=data["reason_code"], reason=data["reason"]),
    ),
    "resume": DeadlineAction(
        title=gettext_lazy("Resume the clocks"),
        button=gettext_lazy("Resume"),
        done=gettext_lazy("The clocks are running again; their due times moved by the time paused."),
        form=lambda order, *args, **kwargs: ResumeForm(*args, **kwargs),
        allowed=services.may_resume,
        run=lambda request, order, data: services.resume_clocks(work_order=order, by=request.user),
    ),
    "extension": DeadlineAction(
        title=gettext_lazy("Ask for more time"),
        button=gettext_lazy("Ask for more time"),
        done=gettext_lazy("The request for more time has been sent to the unit that sent the work order."),
        form=lambda order, *args, **kwargs: ExtensionForm(*args, day_unit_label=_day_unit_label(order), **kwargs),
        allowed=services.may_handle,
        run=lambda request, order, data: services.request_extension(work_order=order, by=request.user, days=data["days"], reason=data["reason"]),
    ),
}


def _work_order_action(request: StaffRequest, pk: int, name: str) -> HttpResponse:
    order = access_work_order(request.user, pk)
    spec = ACTIONS[name]
    if not spec.allowed(request.user, order):
        raise PermissionDenied
    form = spec.form(order, _posted(request))
    context = {"order": order, "case": order.case, "spec": spec, "deadlines": deadlines_of(order)}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:deadline_{name}:{order.pk}",
                key=data["idempotency_key"],
                create=lambda: str(spec.run(request, order, data).pk),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render(request, "supervision/work_order_action.html", context, form, conflict=str(error))
        else:
            if ran:
                messages.success(request, str(spec.done))
            else:
                messages.info(request, _("This was already done: the form was sent twice."))
            return redirect(_back_to(order))
    return _render(request, "supervision/work_order_action.html", context, form)


@login_required
def work_order_pause(request: StaffRequest, pk: int) -> HttpResponse:
    """Pause a work order's clocks while waiting for the petitioner, a court or arbitration."""
    return _work_order_action(request, pk, "pause")


@login_required
def work_order_resume(request: StaffRequest, pk: int) -> HttpResponse:
    """End the pause: the clocks run again."""
    return _work_order_action(request, pk, "resume")


@login_required
def work_order_extension(request: StaffRequest, pk: int) -> HttpResponse:
    """Ask the sending unit for more time on the resolution deadline."""
    return _work_order_action(request, pk, "extension")


@login_required
def extension_decide(request: StaffRequest, pk: int) -> HttpResponse:
    """The sending unit (or a supervisor, for a request beyond the usual limit) approves or refuses more time."""
    extension = access_extension(request.user, pk)
    if not services.may_decide_extension(request.user, extension):
        raise PermissionDenied
    order = extension.work_order
    form = ExtensionDecisionForm(_posted(request))
    context = {"extension": extension, "order": order, "case": order.case, "deadlines": deadlines_of(order)}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:decide_extension:{extension.pk}",
                key=data["idempotency_key"],
                create=lambda: str(
                    services.decide_extension(extension=extension, by=request.user, approve=data["decision"] == "approve", note=data["note"]).pk
                ),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except AuthorisationError as error:
            raise PermissionDenied(str(error)) from error
        except Conflict as error:
            return _render(request, "supervision/extension_decide.html", context, form, conflict=str(error))
        else:
            if ran:
                messages.success(request, _("The decision has been recorded."))
            else:
                messages.info(request, _("This was already done: the form was sent twice."))
            return redirect(_back_to(order))
    return _render(request, "supervision/extension_decide.html", context, form)


# --- the presets -----------------------------------------------------------------------------------


def _require_preset_manager(request: StaffRequest) -> None:
    if not access.has_capability(request.user, Capability.MANAGE_RESPONSIBILITY_LIST):
        raise PermissionDenied


def _policy_or_404(pk: int) -> ClockPolicy:
    try:
        return ClockPolicy.objects.select_related("updated_by").get(pk=pk)
    except (ClockPolicy.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


@login_required
def clock_policy_list(request: StaffRequest) -> HttpResponse:
    """The deadline presets in force, by urgency and time class, one column per clock."""
    _require_preset_manager(request)
    policies = list(ClockPolicy.objects.current().select_related("updated_by"))
    rows: dict[tuple[str, str], dict[str, ClockPolicy]] = {}
    for policy in policies:
        rows.setdefault((policy.urgency, policy.time_class), {})[policy.kind] = policy
    urgency_rank = {"emergency": 0, "urgent": 1, "normal": 2}
    table = [
        {
            "urgency": cells[next(iter(cells))].get_urgency_display(),
            "time_class": key[1],
            "cells": [cells.get(kind) for kind in CLOCK_ORDER],
            "first": cells[next(iter(cells))],
        }
        for key, cells in sorted(rows.items(), key=lambda item: (urgency_rank.get(item[0][0], 9), item[0][1]))
    ]
    return render(request, "supervision/policy_list.html", {"table": table, "kinds": CLOCK_ORDER})


def _policy_form_view(request: StaffRequest, policy: ClockPolicy | None) -> HttpResponse:
    _require_preset_manager(request)
    initial: dict[str, Any] = {}
    if policy is not None:
        initial = {name: getattr(policy, name) for name in ("urgency", "time_class", "kind", "amount", "unit")}
    form = ClockPolicyForm(_posted(request), initial=initial, editing=policy is not None)
    context = {"policy": policy}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:save_clock_policy:{policy.pk if policy else 'new'}",
                key=data["idempotency_key"],
                create=lambda: str(
                    services.save_clock_policy(
                        by=request.user,
                        policy=policy,
                        urgency=data["urgency"],
                        time_class=data["time_class"] or "",
                        kind=data["kind"],
                        amount=data["amount"],
                        unit=data["unit"],
                    ).pk
                ),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render(request, "supervision/policy_form.html", context, form, conflict=str(error))
        else:
            messages.success(request, _("The deadline preset has been saved.") if ran else _("This was already done: the form was sent twice."))
            return redirect("clock_policy_history", pk=int(result))
    return _render(request, "supervision/policy_form.html", context, form)


@login_required
def clock_policy_create(request: StaffRequest) -> HttpResponse:
    """Add a preset for an urgency, time class and clock that has none."""
    return _policy_form_view(request, None)


@login_required
def clock_policy_edit(request: StaffRequest, pk: int) -> HttpResponse:
    """Change a preset's length: a new version; running clocks keep theirs."""
    _require_preset_manager(request)
    return _policy_form_view(request, _policy_or_404(pk))


@login_required
def clock_policy_history(request: StaffRequest, pk: int) -> HttpResponse:
    """Every version of a preset, newest first."""
    _require_preset_manager(request)
    policy = _policy_or_404(pk)
    return render(request, "supervision/policy_history.html", {"policy": policy, "versions": services.policy_history(policy)})
