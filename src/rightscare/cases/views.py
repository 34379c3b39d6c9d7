"""Pages of cases: the case page and its timeline, dispatch, transfer, merge, decline and
close; the work-order actions; the dispatcher's queues, the unit's inbox, the case
search; attachments; the responsibility list and the categories.

Every page loads its case or work order through ``visible_to(user)`` (404 outside
her scope, exactly like a missing record) and answers 403 only when she may see it
but not do this. Writes go through ``cases.services`` inside ``run_once`` so a double
click makes one record; a service's ``ValidationError`` re-renders the form (422), an
illegal move (``Conflict``) shows its message (409) and changes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Window
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from rightscare.audit.services import record_read
from rightscare.cases import attachments, selectors, services
from rightscare.cases.forms import (
    AttachmentForm,
    CaseSearchForm,
    CategoryForm,
    CloseForm,
    CompleteForm,
    DeclineForm,
    DispatchForm,
    EmptyActionForm,
    FirstContactForm,
    ForwardForm,
    MergeForm,
    NoteForm,
    ReasonForm,
    ReviewForm,
    RuleForm,
    RulingForm,
    TransferDecisionForm,
    TransferForm,
    current_categories,
)
from rightscare.cases.models import (
    ACTIVE_WORK_ORDER_STATUSES,
    FINAL_CASE_STATUSES,
    Attachment,
    Case,
    CaseParty,
    CaseStatus,
    Category,
    EventKind,
    LegalBasis,
    ResponsibilityRule,
    Role,
    Transfer,
    Urgency,
    WorkOrder,
    WorkOrderStatus,
)
from rightscare.core.errors import Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.models import Unit
from rightscare.org.roles import Capability

PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 20
#: Past this page number a list is paged by Paginator itself (which sends it to the last page).
MAX_PAGE = 100_000


class OneReadPaginator(Paginator[Any]):
    """Pages of a scoped list whose filter is costly: the filter computed once per page.

    ``Paginator`` counts the rows, then reads the page: for a case search that computes her
    scope (``listed_for``'s union) twice, and reads from the table every case it sorts. Here
    one statement filters and sorts only the ids (from the index ``case_scope_list``) and
    returns the page's ids with the number of rows (``COUNT(*) OVER ()``); ``rows(ids)`` then
    reads those few rows — ids that the scoped ``object_list`` gave, so no other row. The
    pages are ``Paginator.get_page``'s, number for number (not a number: the first page; past
    the end: the last, after a ``COUNT``; an absurd one, below 1 or huge: ``Paginator`` itself).
    """

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, rows: Callable[[list[int]], QuerySet[Any]]) -> None:
        super().__init__(object_list, per_page)
        self.queryset, self.rows = object_list, rows

    def get_page(self, number: Any) -> Page[Any]:
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(number)
            wanted = int(number)
        except (TypeError, ValueError):
            wanted = 1  # as Paginator.get_page: not a number, the first page
        if not 1 <= wanted <= MAX_PAGE:
            return super().get_page(number)
        page = self._read(wanted)
        if page is not None:
            return page
        if wanted == 1:
            self.__dict__["count"] = 0  # nothing at all: the empty first page
            return Page([], 1, self)
        # Past the end: the last page, as Paginator (which counts the rows to know it).
        return self._read(self.num_pages) or super().get_page(number)

    def _read(self, number: int) -> Page[Any] | None:
        bottom = (number - 1) * self.per_page
        found = list(self.queryset.annotate(rows_in_list=Window(Count("*"))).values_list("pk", "rows_in_list")[bottom : bottom + self.per_page])
        if not found:
            return None
        self.__dict__["count"] = found[0][1]  # Paginator.count is a cached property
        by_id = {row.pk: row for row in self.rows([pk for pk, _count in found])}
        return Page([by_id[pk] for pk, _count in found if pk in by_id], number, self)


#: A work order still unsigned this many days after it was sent looks overdue in the inbox.
INBOX_LATE_DAYS = 2


def _require_any(request: StaffRequest, *capabilities: Capability) -> None:
    if not any(access.has_capability(request.user, capability) for capability in capabilities):
        raise PermissionDenied


def _posted(request: StaffRequest) -> Any:
    """The submitted data of a POST (even an empty one, so the form is bound), else None."""
    return request.POST if request.method == "POST" else None


def _posted_files(request: StaffRequest) -> Any:
    return request.FILES if request.method == "POST" else None


def access_case(user: Any, pk: int) -> Case:
    """Fetch a case she may open, or 404 (also for a case that exists outside her scope)."""
    try:
        return Case.objects.visible_to(user).select_related("category", "region", "registering_unit", "merged_into", "accused_unit").get(pk=pk)
    except (Case.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def access_work_order(user: Any, pk: int) -> WorkOrder:
    """Fetch a work order of a case she may open, or 404."""
    try:
        return WorkOrder.objects.visible_to(user).select_related("case__category", "case__region", "unit", "sent_by_unit", "parent__unit").get(pk=pk)
    except (WorkOrder.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


# --- who may do what here ---------------------------------------------------------------------


@dataclass(frozen=True)
class Powers:
    """Her units by what she may do in them, read once per request from her grants."""

    handling: frozenset[int]
    dispatching: frozenset[int]

    @classmethod
    def of(cls, user: Any) -> Powers:
        grants = access.grants_of(user)
        dispatching = frozenset(g.unit_id for g in grants if Capability.DISPATCH_CASES in g.capabilities)
        # A federation's dispatcher also signs for and handles what is sent to her federation.
        handling = frozenset(g.unit_id for g in grants if Capability.HANDLE_WORK_ORDERS in g.capabilities) | dispatching
        return cls(handling=handling, dispatching=dispatching)


def may_handle(powers: Powers, order: WorkOrder) -> bool:
    return order.unit_id in powers.handling


def may_review(powers: Powers, order: WorkOrder) -> bool:
    if order.parent_id is None:
        return order.sent_by_unit_id in powers.dispatching
    assert order.parent is not None
    return order.parent.unit_id in powers.handling


def may_rule(powers: Powers, order: WorkOrder) -> bool:
    return order.sent_by_unit_id in powers.dispatching


def work_order_actions(order: WorkOrder, powers: Powers, *, now: datetime.datetime, open_children: bool) -> list[str]:
    """The actions she may take on the work order now (the service decides in the end)."""
    actions: list[str] = []
    status = order.status
    if may_handle(powers, order):
        if status == WorkOrderStatus.SENT:
            actions.append("sign_for")
        if status == WorkOrderStatus.SIGNED:
            actions.append("first_contact")
        if (
            status in (WorkOrderStatus.SENT, WorkOrderStatus.SIGNED)
            and order.first_note_at is None
            and order.first_contact_at is None
            and (order.return_deadline is None or now <= order.return_deadline)
        ):
            actions.append("return")
        if status in (WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.COMPLETED):
            actions.append("note")
        if status in (WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS):
            actions.append("forward")
        if status == WorkOrderStatus.IN_PROGRESS and not open_children:
            actions.append("complete")
    if status == WorkOrderStatus.COMPLETED and may_review(powers, order):
        actions.append("review")
    if status == WorkOrderStatus.RETURNED and not order.return_ruling and may_rule(powers, order):
        actions.append("rule_return")
    return actions


def dispatching_unit_for(user: Any, case: Case) -> Unit | None:
    """The unit she dispatches this case for: the most local of her dispatching units whose
    area holds the case, else the unit that registered it or sent one of its work orders."""
    units = list(access.units_with_capability(user, Capability.DISPATCH_CASES).select_related("region", "kind"))
    covering = [u for u in units if case.region.path.startswith(u.region.path)]
    if covering:
        return max(covering, key=lambda u: len(u.region.path))
    for unit in units:
        if unit.pk == case.registering_unit_id:
            return unit
    senders = set(case.work_orders.values_list("sent_by_unit_id", flat=True))
    return next((u for u in units if u.pk in senders), None)


def _has_active_lead(case: Case) -> bool:
    return case.work_orders.filter(parent__isnull=True, role=Role.LEAD, status__in=ACTIVE_WORK_ORDER_STATUSES | {WorkOrderStatus.ACCEPTED}).exists()


def may_see_confidential_parties(user: Any, case: Case, orders: list[WorkOrder]) -> bool:
    """A confidential person (a mandatory reporter) is shown only to the units handling the case
    and to the unit that registered it."""
    handling = {o.unit_id for o in orders if o.status not in (WorkOrderStatus.RETURNED, WorkOrderStatus.TRANSFERRED)}
    return access.member_of_any(user, handling | {case.registering_unit_id})


# --- the case page -----------------------------------------------------------------------------


@dataclass
class OrderNode:
    """A work order on the case page, with the orders forwarded from it and her actions."""

    order: WorkOrder
    actions: list[str]
    forms: dict[str, Form] = field(default_factory=dict)
    children: list[OrderNode] = field(default_factory=list)


#: Actions whose small form sits on the case page; the others have their own page.
INLINE_FORMS: dict[str, type[Form]] = {
    "sign_for": EmptyActionForm,
    "first_contact": FirstContactForm,
    "return": ReasonForm,
    "note": NoteForm,
    "review": ReviewForm,
    "rule_return": RulingForm,
}


def _order_tree(orders: list[WorkOrder], powers: Powers) -> list[OrderNode]:
    now = timezone.now()
    open_parents = {o.parent_id for o in orders if o.parent_id and o.status in ACTIVE_WORK_ORDER_STATUSES}
    nodes = {}
    for order in orders:
        actions = work_order_actions(order, powers, now=now, open_children=order.pk in open_parents)
        forms = {name: INLINE_FORMS[name](auto_id=f"wo{order.pk}-{name}-%s") for name in actions if name in INLINE_FORMS}
        nodes[order.pk] = OrderNode(order=order, actions=actions, forms=forms)
    roots: list[OrderNode] = []
    for order in orders:
        node = nodes[order.pk]
        if order.parent_id and order.parent_id in nodes:
            nodes[order.parent_id].children.append(node)
        else:
            roots.append(node)
    return roots


def _timeline_page(request: StaffRequest, case: Case, number: Any) -> Any:
    page = Paginator(selectors.timeline(by=request.user, case=case), TIMELINE_PAGE_SIZE).get_page(number)
    contact_ids = [e.data.get("contact") for e in page.object_list if e.kind == EventKind.CONTACT and isinstance(e.data, dict)]
    contacts: dict[Any, Any] = {}
    if contact_ids:
        from rightscare.intake.models import Contact

        contacts = {c.pk: c for c in Contact.objects.filter(pk__in=[i for i in contact_ids if isinstance(i, int)], case=case)}
    for event in page.object_list:
        data = event.data if isinstance(event.data, dict) else {}
        event.contact = contacts.get(data.get("contact"))  # type: ignore[attr-defined]
    return page


@login_required
def case_detail(request: StaffRequest, pk: int) -> HttpResponse:
    """A case: header, people concerned, work orders as a tree with her actions, attachments and the timeline."""
    case = access_case(request.user, pk)
    powers = Powers.of(request.user)
    orders = list(case.work_orders.select_related("unit", "sent_by_unit", "parent__unit", "signed_by").order_by("created_at", "id"))
    parties = list(CaseParty.objects.filter(case=case).select_related("person").order_by("id"))
    if not may_see_confidential_parties(request.user, case, orders):
        parties = [p for p in parties if not p.confidential]
    dispatcher = dispatching_unit_for(request.user, case)
    is_open = case.status not in FINAL_CASE_STATUSES
    pending_transfer = case.transfers.filter(status=Transfer.Status.PENDING).select_related("to_unit", "from_unit").first()
    context = {
        "case": case,
        "show_address": services.location_visible_to(request.user, case),
        "parties": parties,
        "tree": _order_tree(orders, powers),
        "attachments": case.attachments.select_related("uploaded_by_unit").order_by("created_at"),
        "attachment_form": AttachmentForm(auto_id="attach-%s") if services.attaching_unit(request.user, case) is not None and is_open else None,
        "timeline": _timeline_page(request, case, 1),
        "pending_transfer": pending_transfer,
        "decides_transfer": pending_transfer is not None and pending_transfer.to_unit_id in powers.dispatching,
        "may_dispatch": dispatcher is not None and is_open and case.status != CaseStatus.RESOLVED and not _has_active_lead(case),
        "may_transfer": dispatcher is not None
        and is_open
        and case.status != CaseStatus.RESOLVED
        and pending_transfer is None
        and access.transfer_targets(request.user, dispatcher).exists(),
        "may_decline": dispatcher is not None and case.status == CaseStatus.REGISTERED,
        "may_merge": dispatcher is not None and case.status == CaseStatus.REGISTERED,
        "may_unmerge": dispatcher is not None and case.status == CaseStatus.MERGED,
        "may_close": dispatcher is not None and case.status == CaseStatus.RESOLVED and not services.under_safety_follow_up(case),
        "close_form": CloseForm(auto_id="close-%s"),
    }
    return render(request, "cases/case_detail.html", context)


@login_required
@require_GET
def case_timeline(request: StaffRequest, pk: int) -> HttpResponse:
    """One more page of the case's timeline (htmx "load more"), or the whole page without htmx."""
    case = access_case(request.user, pk)
    page = _timeline_page(request, case, request.GET.get("page"))
    template = "cases/case_detail.html#timeline_entries" if request.htmx else "cases/timeline.html"
    return render(request, template, {"case": case, "timeline": page})


# --- actions on the case ------------------------------------------------------------------------


def _done(request: StaffRequest, case_pk: int, message: str, ran: bool, anchor: str = "") -> HttpResponse:
    if ran:
        messages.success(request, message)
    else:
        messages.info(request, _("This was already done: the form was sent twice."))
    return redirect(reverse("case_detail", args=[case_pk]) + anchor)


def _render_form(request: StaffRequest, template: str, context: dict[str, Any], form: Form, conflict: str = "") -> HttpResponse:
    status = 409 if conflict else (422 if form.errors else 200)
    return render(request, template, {**context, "form": form, "conflict": conflict}, status=status)


def _suggested_legal_basis(case: Case) -> str:
    if case.urgency == Urgency.EMERGENCY:
        return LegalBasis.EMERGENCY
    if case.reporting_institution_id is not None:
        return LegalBasis.STATUTORY_DUTY
    return LegalBasis.CONSENT


@login_required
def case_dispatch(request: StaffRequest, pk: int) -> HttpResponse:
    """Dispatch the case: the responsibility list's suggestion pre-selected, any unit in her reach allowed."""
    case = access_case(request.user, pk)
    unit = dispatching_unit_for(request.user, case)
    if unit is None:
        raise PermissionDenied
    targets = access.dispatch_targets(request.user, unit)
    if case.accused_unit_id is not None:
        targets = targets.exclude(pk=case.accused_unit_id)
    suggestion = services.suggest_dispatch(dispatching_unit=unit, category=case.category, region=case.region, accused_unit=case.accused_unit)
    initial = {
        "lead": suggestion.lead,
        "cohandlers": suggestion.cohandlers,
        "time_class": suggestion.time_class,
        "legal_basis": _suggested_legal_basis(case),
    }
    form = DispatchForm(_posted(request), targets=targets, initial=initial)
    context = {"case": case, "unit": unit, "suggestion": suggestion}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def dispatch() -> str:
            orders = services.dispatch_case(
                case=case,
                by=request.user,
                dispatching_unit=unit,
                lead=data["lead"],
                cohandlers=list(data["cohandlers"]),
                legal_basis=data["legal_basis"],
                time_class=data["time_class"],
                instructions=data["instructions"],
            )
            return ",".join(str(o.pk) for o in orders)

        try:
            _result, ran = run_once(user_id=request.user.pk, scope=f"page:dispatch_case:{case.pk}", key=data["idempotency_key"], create=dispatch)
            return _done(request, case.pk, _("The case has been dispatched."), ran)
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render_form(request, "cases/dispatch_form.html", context, form, conflict=str(error))
    return _render_form(request, "cases/dispatch_form.html", context, form)


@login_required
def case_transfer(request: StaffRequest, pk: int) -> HttpResponse:
    """Ask a peer district to take the case over (the family moved), with the new confidential address."""
    case = access_case(request.user, pk)
    unit = dispatching_unit_for(request.user, case)
    if unit is None:
        raise PermissionDenied
    targets = access.transfer_targets(request.user, unit)
    if not targets.exists():
        raise PermissionDenied
    form = TransferForm(_posted(request), targets=targets)
    context = {"case": case, "unit": unit}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:request_transfer:{case.pk}",
                key=data["idempotency_key"],
                create=lambda: str(
                    services.request_transfer(
                        case=case,
                        by=request.user,
                        from_unit=unit,
                        to_unit=data["to_unit"],
                        reason=data["reason"],
                        new_region=data["new_region"],
                        new_address=data["new_address"],
                    ).pk
                ),
            )
            return _done(request, case.pk, _("The transfer has been requested; the receiving unit must accept it."), ran)
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render_form(request, "cases/transfer_form.html", context, form, conflict=str(error))
    return _render_form(request, "cases/transfer_form.html", context, form)


def _incoming_transfers(user: Any) -> QuerySet[Transfer]:
    return Transfer.objects.filter(to_unit__in=access.units_with_capability(user, Capability.DISPATCH_CASES))


@login_required
def transfer_decide(request: StaffRequest, pk: int) -> HttpResponse:
    """The receiving unit's page for a transfer: accept the case or refuse it.

    Loaded through the transfers sent to her dispatching units (she may not see the
    case before she accepts it): anyone else gets 404.
    """
    try:
        transfer = _incoming_transfers(request.user).select_related("case__category", "case__region", "from_unit", "to_unit", "new_region").get(pk=pk)
    except (Transfer.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error
    form = TransferDecisionForm(_posted(request))
    context = {"transfer": transfer, "case": transfer.case}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        accept = data["decision"] == "accept"
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:decide_transfer:{transfer.pk}",
                key=data["idempotency_key"],
                create=lambda: str(services.decide_transfer(transfer=transfer, by=request.user, accept=accept, note=data["note"]).pk),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render_form(request, "cases/transfer_decide.html", context, form, conflict=str(error))
        else:
            if accept:
                return _done(request, transfer.case_id, _("The case has been transferred to your unit."), ran)
            messages.success(request, _("The transfer has been refused."))
            return redirect("dispatch_queues")
    return _render_form(request, "cases/transfer_decide.html", context, form)


def _case_dispatcher_or_403(request: StaffRequest, case: Case) -> Unit:
    unit = dispatching_unit_for(request.user, case)
    if unit is None:
        raise PermissionDenied
    return unit


@login_required
def case_merge(request: StaffRequest, pk: int) -> HttpResponse:
    """Merge a duplicate into another case chosen by its number (reversible)."""
    case = access_case(request.user, pk)
    _case_dispatcher_or_403(request, case)
    form = MergeForm(_posted(request))
    context = {"case": case}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        into = Case.objects.visible_to(request.user).filter(number=data["into_number"].strip().upper()).first()
        if into is None:
            form.add_error("into_number", _("No case with this number in your scope."))
        else:
            try:
                _result, ran = run_once(
                    user_id=request.user.pk,
                    scope=f"page:merge_case:{case.pk}",
                    key=data["idempotency_key"],
                    create=lambda: str(services.merge_case(case=case, into=into, by=request.user, reason=data["reason"]).pk),
                )
                return _done(request, case.pk, _("The case has been merged into %(number)s.") % {"number": into.number}, ran)
            except ValidationError as error:
                apply_errors(form, error)
            except Conflict as error:
                return _render_form(request, "cases/merge_form.html", context, form, conflict=str(error))
    return _render_form(request, "cases/merge_form.html", context, form)


@dataclass(frozen=True)
class CaseAction:
    """A case-level action confirmed on a small page: unmerge, close, decline."""

    title: Any
    button: Any
    done: Any
    form: type[Form]
    run: Callable[[StaffRequest, Case, dict[str, Any]], Any]
    danger: bool = False


CASE_ACTIONS: dict[str, CaseAction] = {
    "unmerge": CaseAction(
        title=gettext_lazy("Undo the merge"),
        button=gettext_lazy("Undo the merge"),
        done=gettext_lazy("The merge has been undone."),
        form=CloseForm,
        run=lambda request, case, data: services.unmerge_case(case=case, by=request.user),
    ),
    "close": CaseAction(
        title=gettext_lazy("Close the case"),
        button=gettext_lazy("Close the case"),
        done=gettext_lazy("The case has been closed."),
        form=CloseForm,
        run=lambda request, case, data: services.close_case(case=case, by=request.user, note=data.get("note", "")),
    ),
    "decline": CaseAction(
        title=gettext_lazy("Do not accept the request (不予受理)"),
        button=gettext_lazy("Do not accept"),
        done=gettext_lazy("The request has been recorded as not accepted."),
        form=DeclineForm,
        run=lambda request, case, data: services.decline_case(case=case, by=request.user, reason=data["reason"]),
        danger=True,
    ),
}


def _case_action(request: StaffRequest, pk: int, name: str) -> HttpResponse:
    case = access_case(request.user, pk)
    _case_dispatcher_or_403(request, case)
    action = CASE_ACTIONS[name]
    form = action.form(_posted(request))
    context = {"case": case, "action": action, "action_name": name}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:case_{name}:{case.pk}",
                key=data["idempotency_key"],
                create=lambda: str(action.run(request, case, data).pk),
            )
            return _done(request, case.pk, str(action.done), ran)
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render_form(request, "cases/case_action.html", context, form, conflict=str(error))
    return _render_form(request, "cases/case_action.html", context, form)


@login_required
def case_unmerge(request: StaffRequest, pk: int) -> HttpResponse:
    return _case_action(request, pk, "unmerge")


@login_required
def case_close(request: StaffRequest, pk: int) -> HttpResponse:
    return _case_action(request, pk, "close")


@login_required
def case_decline(request: StaffRequest, pk: int) -> HttpResponse:
    return _case_action(request, pk, "decline")


# --- work-order actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkOrderAction:
    """One action on a work order: its form, who may try it, and the service it calls."""

    title: Any
    button: Any
    done: Any
    form: Callable[..., Form]
    allowed: Callable[[Powers, WorkOrder], bool]
    run: Callable[[StaffRequest, WorkOrder, dict[str, Any]], Any]


def _forward_targets(order: WorkOrder) -> QuerySet[Unit]:
    # The same reach as the service: units in the region subtree of the forwarding unit.
    return Unit.objects.filter(region__path__startswith=order.unit.region.path, is_active=True).exclude(pk=order.unit_id).select_related("kind")


def _forward(request: StaffRequest, order: WorkOrder, data: dict[str, Any]) -> Any:
    orders = services.forward_work_order(
        work_order=order,
        by=request.user,
        lead=data["lead"],
        cohandlers=list(data["cohandlers"]),
        legal_basis=data["legal_basis"] or None,
        instructions=data["instructions"],
    )
    return orders[0]


WORK_ORDER_ACTIONS: dict[str, WorkOrderAction] = {
    "sign_for": WorkOrderAction(
        title=gettext_lazy("Sign for the work order"),
        button=gettext_lazy("Sign for"),
        done=gettext_lazy("Signed for: your unit now handles this work order."),
        form=lambda order, *args, **kwargs: EmptyActionForm(*args, **kwargs),
        allowed=may_handle,
        run=lambda request, order, data: services.sign_for_work_order(work_order=order, by=request.user),
    ),
    "return": WorkOrderAction(
        title=gettext_lazy("Return the work order"),
        button=gettext_lazy("Return"),
        done=gettext_lazy("The work order has been returned to the unit that sent it."),
        form=lambda order, *args, **kwargs: ReasonForm(*args, **kwargs),
        allowed=may_handle,
        run=lambda request, order, data: services.return_work_order(work_order=order, by=request.user, reason=data["reason"]),
    ),
    "rule_return": WorkOrderAction(
        title=gettext_lazy("Rule on the return"),
        button=gettext_lazy("Record the ruling"),
        done=gettext_lazy("The ruling has been recorded. Dispatch the case again if needed."),
        form=lambda order, *args, **kwargs: RulingForm(*args, **kwargs),
        allowed=may_rule,
        run=lambda request, order, data: services.rule_on_return(work_order=order, by=request.user, ruling=data["ruling"], note=data["note"]),
    ),
    "first_contact": WorkOrderAction(
        title=gettext_lazy("Record the first contact with the petitioner"),
        button=gettext_lazy("Record first contact"),
        done=gettext_lazy("The first contact has been recorded; the work order is in progress."),
        form=lambda order, *args, **kwargs: FirstContactForm(*args, **kwargs),
        allowed=may_handle,
        run=lambda request, order, data: services.record_first_contact(work_order=order, by=request.user, note=data["note"]),
    ),
    "note": WorkOrderAction(
        title=gettext_lazy("Add a progress note"),
        button=gettext_lazy("Add the note"),
        done=gettext_lazy("The note has been added."),
        form=lambda order, *args, **kwargs: NoteForm(*args, **kwargs),
        allowed=may_handle,
        run=lambda request, order, data: services.add_progress_note(
            work_order=order, by=request.user, text=data["text"], visibility=data["visibility"], public_text=data["public_text"]
        ),
    ),
    "complete": WorkOrderAction(
        title=gettext_lazy("Complete the work order"),
        button=gettext_lazy("Complete"),
        done=gettext_lazy("The work order is completed; the unit that sent it will review the result."),
        form=lambda order, *args, **kwargs: CompleteForm(*args, **kwargs),
        allowed=may_handle,
        run=lambda request, order, data: services.complete_work_order(
            work_order=order, by=request.user, result=data["result"], outcome_codes=data["outcome_codes"], amount_yuan=data["amount_yuan"]
        ),
    ),
    "review": WorkOrderAction(
        title=gettext_lazy("Review the result"),
        button=gettext_lazy("Record the review"),
        done=gettext_lazy("The review has been recorded."),
        form=lambda order, *args, **kwargs: ReviewForm(*args, **kwargs),
        allowed=may_review,
        run=lambda request, order, data: services.review_work_order(
            work_order=order, by=request.user, accept=data["decision"] == "accept", comment=data["comment"]
        ),
    ),
    "forward": WorkOrderAction(
        title=gettext_lazy("Forward down"),
        button=gettext_lazy("Forward"),
        done=gettext_lazy("The work order has been forwarded; your unit reviews the results."),
        form=lambda order, *args, **kwargs: ForwardForm(*args, targets=_forward_targets(order), **kwargs),
        allowed=may_handle,
        run=_forward,
    ),
}


@login_required
def work_order_action(request: StaffRequest, pk: int, action: str) -> HttpResponse:
    """One action on a work order: its form (GET) and the service call (POST)."""
    order = access_work_order(request.user, pk)
    spec = WORK_ORDER_ACTIONS[action]
    powers = Powers.of(request.user)
    if not spec.allowed(powers, order):
        raise PermissionDenied
    form = spec.form(order, _posted(request))
    open_children = order.children.filter(status__in=ACTIVE_WORK_ORDER_STATUSES).exists()
    possible = action in work_order_actions(order, powers, now=timezone.now(), open_children=open_children)
    context = {"order": order, "case": order.case, "spec": spec, "action": action, "possible": possible}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:work_order_{action}:{order.pk}",
                key=data["idempotency_key"],
                create=lambda: str(spec.run(request, order, data).pk),
            )
            return _done(request, order.case_id, str(spec.done), ran, anchor=f"#work-order-{order.pk}")
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render_form(request, "cases/work_order_action.html", context, form, conflict=str(error))
    return _render_form(request, "cases/work_order_action.html", context, form)


# --- attachments --------------------------------------------------------------------------------


@login_required
def attachment_upload(request: StaffRequest, pk: int) -> HttpResponse:
    """Attach a file to the case (checked, photo metadata stripped, encrypted for sensitive categories)."""
    case = access_case(request.user, pk)
    if services.attaching_unit(request.user, case) is None:
        raise PermissionDenied
    form = AttachmentForm(_posted(request), _posted_files(request))
    context = {"case": case}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:add_attachment:{case.pk}",
                key=data["idempotency_key"],
                create=lambda: str(services.add_attachment(case=case, by=request.user, name=upload.name or "", data=upload.read()).pk),
            )
            return _done(request, case.pk, _("The file has been attached."), ran, anchor="#attachments")
        except ValidationError as error:
            apply_errors(form, error)
    return _render_form(request, "cases/attachment_form.html", context, form)


@login_required
@require_GET
def attachment_download(request: StaffRequest, pk: int, attachment_id: int) -> HttpResponse:
    """Send an attachment of a case she may open, as a download; every read is audited."""
    case = access_case(request.user, pk)
    try:
        attachment = Attachment.objects.get(pk=attachment_id, case=case)
    except Attachment.DoesNotExist as error:
        raise Http404 from error
    data = attachments.read(attachment)
    record_read(actor=request.user, obj=attachment, unit=access.acting_unit(request.user, case.region), reason=case.number)
    response = HttpResponse(data, content_type=attachment.content_type)
    ascii_name = attachment.name.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "") or "attachment"
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(attachment.name)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Length"] = str(len(data))
    return response


# --- lists ------------------------------------------------------------------------------------------


@login_required
def dispatch_queues(request: StaffRequest) -> HttpResponse:
    """The dispatcher's queues: to dispatch, returned (awaiting a ruling), to review, incoming transfers."""
    _require_any(request, Capability.DISPATCH_CASES)
    to_dispatch = Paginator(selectors.dispatch_queue(by=request.user).order_by("created_at", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    returned = Paginator(selectors.returned_queue(by=request.user).select_related("case__category", "unit").order_by("returned_at", "id"), PAGE_SIZE).get_page(
        request.GET.get("returned_page")
    )
    reviews = Paginator(selectors.to_review(by=request.user).select_related("case__category", "unit").order_by("completed_at", "id"), PAGE_SIZE).get_page(
        request.GET.get("review_page")
    )
    transfers = _incoming_transfers(request.user).filter(status=Transfer.Status.PENDING).select_related("case__category", "from_unit", "to_unit")
    return render(
        request,
        "cases/dispatch_queues.html",
        {"to_dispatch": to_dispatch, "returned": returned, "reviews": reviews, "transfers": list(transfers.order_by("created_at", "id")[:PAGE_SIZE])},
    )


#: The columns an inbox row shows (``_inbox_orders``).
INBOX_ROW_FIELDS = (
    *("case", "unit", "sent_by_unit", "status", "role", "created_at", "return_deadline"),
    *("case__number", "case__urgency", "case__category__name", "case__category__name_en"),
    *("unit__name", "unit__name_en", "sent_by_unit__name", "sent_by_unit__name_en"),
)


def _inbox_orders(user: Any) -> QuerySet[WorkOrder]:
    # selectors.unit_inbox covers handlers; a federation's dispatchers also sign for what is sent to their federation.
    units = access.units_with_capability(user, Capability.HANDLE_WORK_ORDERS) | access.units_with_capability(user, Capability.DISPATCH_CASES)
    return (
        WorkOrder.objects.filter(unit__in=units, status__in=[WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS])
        .select_related("case__category", "unit", "sent_by_unit")
        # Only what a row shows (cases/_inbox_table.html, InboxRow): a work order, its case and
        # four names carry dozens of other columns, an encrypted address among them.
        .only(*INBOX_ROW_FIELDS)
        .order_by("created_at", "id")
    )


def choice_labels(choices: Any) -> dict[str, str]:
    """Each value's label in the current language, for a list's rows.

    A model's ``get_FOO_display`` rebuilds (and hashes) the whole choice list on every call:
    three of them per row were a good part of a list's rendering.
    """
    return {value: str(label) for value, label in choices}


@dataclass(frozen=True)
class InboxRow:
    """A work order in the inbox with its age; an unsigned order past its return window looks overdue.

    With what its row shows worked out beforehand: the link to the case and the labels.
    """

    order: WorkOrder
    age_days: int
    looks_late: bool
    url: str = ""
    status_label: str = ""
    role_label: str = ""
    urgency_label: str = ""

    @classmethod
    def of(cls, order: WorkOrder, now: datetime.datetime, labels: dict[str, dict[str, str]] | None = None) -> InboxRow:
        labels = labels or inbox_labels()
        age = (now - order.created_at).days
        past_window = order.return_deadline is not None and now > order.return_deadline
        return cls(
            order=order,
            age_days=age,
            looks_late=order.status == WorkOrderStatus.SENT and (past_window or age >= INBOX_LATE_DAYS),
            url=f"{reverse('case_detail', args=[order.case_id])}#work-order-{order.pk}",
            status_label=labels["status"].get(order.status, order.status),
            role_label=labels["role"].get(order.role, order.role),
            urgency_label=labels["urgency"].get(order.case.urgency, order.case.urgency),
        )


def inbox_labels() -> dict[str, dict[str, str]]:
    """The labels an inbox row shows, in the current language (``InboxRow.of``)."""
    return {"status": choice_labels(WorkOrderStatus.choices), "role": choice_labels(Role.choices), "urgency": choice_labels(Urgency.choices)}


@dataclass(frozen=True)
class CaseRow:
    """A case in the case search, with the link and the labels its row shows worked out once."""

    case: Case
    url: str
    status_label: str
    urgency_label: str


def case_rows(cases: list[Case]) -> list[CaseRow]:
    statuses, urgencies = choice_labels(CaseStatus.choices), choice_labels(Urgency.choices)
    return [
        CaseRow(case, reverse("case_detail", args=[case.pk]), statuses.get(case.status, case.status), urgencies.get(case.urgency, case.urgency))
        for case in cases
    ]


@login_required
def unit_inbox(request: StaffRequest) -> HttpResponse:
    """Her units' inbox: work orders to sign for and in progress, oldest first, with their age."""
    from rightscare.supervision.board_views import inbox_chases  # the supervision app sits above cases

    _require_any(request, Capability.HANDLE_WORK_ORDERS, Capability.DISPATCH_CASES)
    orders = _inbox_orders(request.user)
    to_sign = Paginator(orders.filter(status=WorkOrderStatus.SENT), PAGE_SIZE).get_page(request.GET.get("page"))
    in_progress = Paginator(orders.exclude(status=WorkOrderStatus.SENT), PAGE_SIZE).get_page(request.GET.get("progress_page"))
    now, labels = timezone.now(), inbox_labels()
    context = {
        "to_sign": to_sign,
        "in_progress": in_progress,
        "to_sign_rows": [InboxRow.of(order, now, labels) for order in to_sign.object_list],
        "in_progress_rows": [InboxRow.of(order, now, labels) for order in in_progress.object_list],
        # Reminders and supervision (督办) the units must answer, with their answer forms.
        "chases_to_answer": inbox_chases(request.user),
    }
    return render(request, "cases/unit_inbox.html", context)


def _listed_cases(ids: list[int]) -> QuerySet[Case]:
    """The rows of a page of the case search, by the ids its scoped query found (``OneReadPaginator``).

    Without the address (encrypted: decrypting it cost more than the rest of the row) and the
    summary, which no list shows.
    """
    return Case.objects.filter(pk__in=ids).select_related("category", "region").defer("address", "summary")


@login_required
def case_search(request: StaffRequest) -> HttpResponse:
    """Search the cases in her scope; phones and case numbers exact, names exact or by their beginning."""
    _require_any(request, *access.CASE_CAPABILITIES)
    form = CaseSearchForm(request.GET or None, user=request.user)
    page, filters = None, None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = selectors.CaseSearch(
            number=data["number"],
            phone=data["phone"],
            name=data["name"],
            category=data["category"],
            status=data["status"],
            region_path=data["region"].path if data["region"] else "",
            unit=data["unit"],
            created_from=data["created_from"],
            created_to=data["created_to"],
        )
    elif not form.is_bound:
        filters = selectors.CaseSearch()
    if filters is not None:
        page = OneReadPaginator(selectors.search_cases(by=request.user, filters=filters), PAGE_SIZE, rows=_listed_cases).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "rows": case_rows(list(page.object_list)) if page is not None else []}
    template = "cases/case_search.html#results" if request.htmx else "cases/case_search.html"
    return render(request, template, context, status=422 if form.errors else 200)


# --- the responsibility list and the categories -----------------------------------------------------


def _require_list_manager(request: StaffRequest) -> None:
    _require_any(request, Capability.MANAGE_RESPONSIBILITY_LIST)


def _rule_or_404(pk: int) -> ResponsibilityRule:
    try:
        return ResponsibilityRule.objects.select_related("category", "region", "lead_kind").get(pk=pk)
    except ResponsibilityRule.DoesNotExist as error:
        raise Http404 from error


@login_required
def rule_list(request: StaffRequest) -> HttpResponse:
    """The current responsibility list (职责清单)."""
    _require_list_manager(request)
    rules = (
        ResponsibilityRule.objects.filter(valid_until__isnull=True)
        .select_related("category__parent", "region", "lead_kind")
        .prefetch_related("cohandler_kinds")
        .order_by("dispatch_level", "category__sort_order", "category__code", "id")
    )
    return render(request, "cases/rule_list.html", {"rules": rules})


def _rule_form_view(request: StaffRequest, rule: ResponsibilityRule | None) -> HttpResponse:
    _require_list_manager(request)
    initial: dict[str, Any] = {}
    if rule is not None:
        initial = {
            "dispatch_level": rule.dispatch_level,
            "region": rule.region,
            "category": rule.category,
            "lead_kind": rule.lead_kind,
            "cohandler_kinds": list(rule.cohandler_kinds.all()),
            "time_class": rule.time_class,
        }
    form = RuleForm(_posted(request), initial=initial)
    context = {"rule": rule}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("dispatch_level", "region", "category", "lead_kind", "time_class")}
        try:
            result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:save_rule:{rule.pk if rule else 'new'}",
                key=data["idempotency_key"],
                create=lambda: str(services.save_rule(by=request.user, rule=rule, cohandler_kinds=list(data["cohandler_kinds"]), **fields).pk),
            )
            messages.success(request, _("The responsibility list has been saved.") if ran else _("This was already done: the form was sent twice."))
            return redirect("rule_history", pk=int(result))
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render_form(request, "cases/rule_form.html", context, form, conflict=str(error))
    return _render_form(request, "cases/rule_form.html", context, form)


@login_required
def rule_create(request: StaffRequest) -> HttpResponse:
    return _rule_form_view(request, None)


@login_required
def rule_edit(request: StaffRequest, pk: int) -> HttpResponse:
    _require_list_manager(request)
    return _rule_form_view(request, _rule_or_404(pk))


@login_required
def rule_retire(request: StaffRequest, pk: int) -> HttpResponse:
    """Take a rule off the list (GET asks to confirm)."""
    _require_list_manager(request)
    rule = _rule_or_404(pk)
    form = CloseForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.retire_rule(by=request.user, rule=rule)
            messages.success(request, _("The rule has been retired; it stays in the history."))
            return redirect("rule_list")
        except Conflict as error:
            return _render_form(request, "cases/rule_retire.html", {"rule": rule}, form, conflict=str(error))
    return _render_form(request, "cases/rule_retire.html", {"rule": rule}, form)


@login_required
def rule_history(request: StaffRequest, pk: int) -> HttpResponse:
    """Every version of a line of the responsibility list, newest first."""
    _require_list_manager(request)
    rule = _rule_or_404(pk)
    versions = [rule]
    while versions[-1].replaces_id is not None:
        versions.append(_rule_or_404(versions[-1].replaces_id))
    newer = ResponsibilityRule.objects.filter(replaces=rule).first()
    while newer is not None:
        versions.insert(0, newer)
        newer = ResponsibilityRule.objects.filter(replaces=newer).first()
    for version in versions:
        version.cohandler_list = list(version.cohandler_kinds.all())  # type: ignore[attr-defined]
    return render(request, "cases/rule_history.html", {"rule": rule, "versions": versions})


def _category_or_404(pk: int) -> Category:
    try:
        return Category.objects.select_related("parent").get(pk=pk)
    except Category.DoesNotExist as error:
        raise Http404 from error


@login_required
def category_list(request: StaffRequest) -> HttpResponse:
    """The current two-level taxonomy of rights cases."""
    _require_list_manager(request)
    categories = list(current_categories())
    tops = [c for c in categories if c.parent_id is None]
    tree = [(top, [c for c in categories if c.parent_id == top.pk]) for top in tops]
    return render(request, "cases/category_list.html", {"tree": tree})


def _category_form_view(request: StaffRequest, category: Category | None) -> HttpResponse:
    _require_list_manager(request)
    initial: dict[str, Any] = {}
    if category is not None:
        initial = {k: getattr(category, k) for k in ("code", "name", "name_en", "parent", "domestic_violence", "child_protection", "sort_order")}
    form = CategoryForm(_posted(request), initial=initial, editing=category is not None)
    context = {"category": category}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("code", "name", "name_en", "parent", "domestic_violence", "child_protection", "sort_order")}
        try:
            result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:save_category:{category.pk if category else 'new'}",
                key=data["idempotency_key"],
                create=lambda: str(services.save_category(by=request.user, category=category, **fields).pk),
            )
            messages.success(request, _("The category has been saved.") if ran else _("This was already done: the form was sent twice."))
            return redirect("category_history", pk=int(result))
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            return _render_form(request, "cases/category_form.html", context, form, conflict=str(error))
    return _render_form(request, "cases/category_form.html", context, form)


@login_required
def category_create(request: StaffRequest) -> HttpResponse:
    return _category_form_view(request, None)


@login_required
def category_edit(request: StaffRequest, pk: int) -> HttpResponse:
    _require_list_manager(request)
    return _category_form_view(request, _category_or_404(pk))


@login_required
def category_history(request: StaffRequest, pk: int) -> HttpResponse:
    """Every version of a category (same code), newest first."""
    _require_list_manager(request)
    category = _category_or_404(pk)
    versions = Category.objects.filter(code=category.code).select_related("parent").order_by("-valid_from", "-id")
    return render(request, "cases/category_history.html", {"category": category, "versions": versions})
