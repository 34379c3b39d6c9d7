"""Pages of chasing: the supervision board, a supervisor's reminder, and the unit's answer.

The board needs the supervise capability (403 without it) and shows only her subtree. A
reminder loads its work order through ``WorkOrder.objects.visible_to`` and an answer its
chase through the same scope (404 outside it, like a missing record); 403 when she may see
it but not do this. Writes go through :mod:`rightscare.supervision.chasing` inside
``run_once``, so a double click sends one reminder and records one answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from rightscare.cases.models import OneOf, WorkOrder
from rightscare.core import memo
from rightscare.core.errors import Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import new_key, run_once
from rightscare.org import access
from rightscare.org.forms import OnceForm
from rightscare.org.http import StaffRequest
from rightscare.org.models import Unit
from rightscare.org.roles import Capability
from rightscare.supervision import board, chasing
from rightscare.supervision.models import Chase
from rightscare.supervision.services import may_supervise

PAGE_SIZE = 25


class ReminderForm(OnceForm):
    comment = forms.CharField(
        label=gettext_lazy("Comment the unit must answer"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=chasing.MAX_TEXT,
        help_text=gettext_lazy("Optional. With a comment, the reminder stays in the unit's inbox until it answers."),
    )


class AnswerForm(OnceForm):
    answer = forms.CharField(label=gettext_lazy("Answer"), widget=forms.Textarea(attrs={"rows": 3}), max_length=chasing.MAX_TEXT)


def _require_supervisor(request: StaffRequest) -> None:
    if not access.has_capability(request.user, Capability.SUPERVISE):
        raise PermissionDenied


def _posted(request: StaffRequest) -> Any:
    return request.POST if request.method == "POST" else None


def access_work_order(user: Any, pk: int) -> WorkOrder:
    """A work order of a case she may open, or 404."""
    try:
        return WorkOrder.objects.visible_to(user).select_related("case__category", "case__region", "unit", "sent_by_unit").get(pk=pk)
    except (WorkOrder.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def access_chase(user: Any, pk: int) -> Chase:
    """A chase of a work order she may see, or 404."""
    try:
        return chasing.visible_chases(user).select_related("work_order__case__category", "work_order__unit", "by_unit", "by", "clock").get(pk=pk)
    except (Chase.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


# --- the board ----------------------------------------------------------------------------------------


@login_required
@require_GET
@memo.one_read_each()
def supervision_board(request: StaffRequest) -> HttpResponse:
    """What is overdue in her subtree: counts by unit and level, the overdue work orders with one-click reminders, the latest answers."""
    _require_supervisor(request)
    now = timezone.now()
    unit: Unit | None = None
    if request.GET.get("unit"):
        unit = access.visible_units(request.user).filter(pk=request.GET["unit"]).first() if request.GET["unit"].isdigit() else None
        if unit is None:
            raise Http404
    orders = board.with_details(board.overdue_work_orders(by=request.user, at=now, unit=unit), now)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    calendars: board.CalendarCache = {}
    rows = [board.row_of(order, now, calendars) for order in page.object_list]
    context = {
        "now": now,
        "unit": unit,
        "summaries": board.unit_summaries(by=request.user, at=now),
        "page": page,
        "rows": [(row, ReminderForm(auto_id=f"remind-{row.order.pk}-%s")) for row in rows],
        "answers": board.recent_answers(by=request.user),
    }
    return render(request, "supervision/board.html", context)


@login_required
def supervision_remind(request: StaffRequest, pk: int) -> HttpResponse:
    """Send a reminder (催办) about one work order, with an optional comment the unit must answer."""
    order = access_work_order(request.user, pk)
    if not may_supervise(request.user, order):
        raise PermissionDenied
    form = ReminderForm(_posted(request))
    conflict = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:send_reminder:{order.pk}",
                key=data["idempotency_key"],
                create=lambda: str(chasing.send_reminder(work_order=order, by=request.user, comment=data["comment"]).pk),
            )
            if ran:
                messages.success(request, _("The reminder has been sent to %(unit)s.") % {"unit": order.unit.display_name})
            else:
                messages.info(request, _("This was already done: the form was sent twice."))
            return redirect(reverse("supervision_board") + f"#work-order-{order.pk}")
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            conflict = str(error)
    status = 409 if conflict else (422 if form.errors else 200)
    return render(request, "supervision/remind.html", {"order": order, "case": order.case, "form": form, "conflict": conflict}, status=status)


# --- the unit's answer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChaseToAnswer:
    """A chase in the unit's inbox with its answer form's fields, and the links its item shows."""

    chase: Chase
    fields: SafeString
    case_url: str
    answer_url: str


#: The columns an item of the inbox's reminders shows (``inbox_chases``).
INBOX_CHASE_FIELDS = (
    *("work_order", "by_unit", "by", "level", "at", "comment", "needs_answer", "answered_at"),
    *("work_order__case", "work_order__unit", "work_order__case__number", "work_order__unit__name", "work_order__unit__name_en"),
    *("by_unit__name", "by_unit__name_en", "by__full_name", "by__username"),
)

#: Placeholders of the answer form rendered once for the whole inbox (see ``inbox_chases``).
_CHASE, _KEY = "__chase_pk__", "__idempotency_key__"


def inbox_chases(user: Any) -> list[ChaseToAnswer]:
    """The chases her units must answer, each with a form (the work-order inbox shows them).

    The rows of ``chasing.chases_to_answer``, looked up by her units' work orders: their ids
    come from an index alone (``work_order_unit_ids``), and the chases waiting for an answer
    are found by work order (``chase_awaiting_answer``), instead of every chase waiting in the
    installation being joined to her units' work orders (all of which were read from the table).

    Each chase has its own answer form (ids ``answer-<chase>-…`` and a fresh idempotency key).
    The form's fields are rendered once, with placeholders for the two, and copied for each
    chase: rendering them through the templates for every chase was most of the inbox's time.
    """
    units = access.units_with_capability(user, Capability.HANDLE_WORK_ORDERS) | access.units_with_capability(user, Capability.DISPATCH_CASES)
    theirs = WorkOrder.objects.filter(unit__in=units).order_by().values("pk")
    # Only what an item shows (supervision/_chases_to_answer.html): a chase with its work order,
    # case, units, sender and clock carries dozens of other columns, an encrypted address among them.
    chases = list(
        chasing.chases_to_answer(by=user)
        .filter(OneOf(F("work_order_id"), theirs))
        .select_related(None)
        .select_related("work_order__case", "work_order__unit", "by_unit", "by")
        .only(*INBOX_CHASE_FIELDS)
    )
    if not chases:
        return []
    fields = render_to_string("includes/form_fields.html", {"form": AnswerForm(auto_id=f"answer-{_CHASE}-%s", initial={"idempotency_key": _KEY})})
    return [
        ChaseToAnswer(
            chase,
            mark_safe(fields.replace(_CHASE, str(chase.pk)).replace(_KEY, new_key())),  # noqa: S308  # an integer and a hex key into rendered HTML
            f"{reverse('case_detail', args=[chase.work_order.case_id])}#work-order-{chase.work_order_id}",
            reverse("chase_answer", args=[chase.pk]),
        )
        for chase in chases
    ]


@login_required
def chase_answer(request: StaffRequest, pk: int) -> HttpResponse:
    """Answer a reminder or supervision for the unit it chases."""
    chase = access_chase(request.user, pk)
    if not chasing.may_answer(request.user, chase):
        raise PermissionDenied
    form = AnswerForm(_posted(request))
    conflict = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:answer_chase:{chase.pk}",
                key=data["idempotency_key"],
                create=lambda: str(chasing.answer_chase(chase=chase, by=request.user, answer=data["answer"]).pk),
            )
            if ran:
                messages.success(request, _("Your answer has been sent."))
            else:
                messages.info(request, _("This was already done: the form was sent twice."))
            return redirect("work_order_inbox")
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            conflict = str(error)
    status = 409 if conflict else (422 if form.errors else 200)
    order = chase.work_order
    return render(
        request,
        "supervision/answer.html",
        {"chase": chase, "chase_list": [chase], "order": order, "case": order.case, "form": form, "conflict": conflict},
        status=status,
    )
