"""Pages of the assessment: the table, the drill-down lists, exports, the leader's dashboard,
exclusion requests and decisions, and the composite's weights.

Readers (supervisors and the federations' dispatchers) see figures of their own scope only:
every selector starts from ``Case.objects.visible_to`` and ``access.visible_units``. A record
outside her scope answers 404 exactly like a missing one; 403 when she may see it but not do
this. Every export is written to the audit log before the file is sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from rightscare.assessment import exports, selectors, services
from rightscare.assessment.forms import ExclusionDecisionForm, ExclusionRequestForm, FilterForm, WeightsForm, filter_query
from rightscare.assessment.models import AssessmentWeights, Exclusion, ExclusionStatus
from rightscare.audit.signals import client_address
from rightscare.cases.models import Case
from rightscare.core.errors import Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.models import Unit

PAGE_SIZE = 50


def _require_reader(request: StaffRequest) -> None:
    if not selectors.may_read(request.user):
        raise PermissionDenied


def _filters(request: StaffRequest) -> tuple[FilterForm, selectors.Filters]:
    form = FilterForm(request.GET or None, user=request.user)
    return form, form.filters()


def _status(form: FilterForm) -> int:
    return 422 if form.is_bound and form.errors else 200


# --- the assessment table ---------------------------------------------------------------------


@login_required
@require_GET
def assessment_table(request: StaffRequest) -> HttpResponse:
    """The assessment table of her scope, with every figure linked to its work orders."""
    _require_reader(request)
    form, filters = _filters(request)
    table = selectors.assessment(request.user, filters)
    context = {
        "form": form,
        "table": table,
        "query": urlencode(filter_query(filters)),
        "rates": selectors.RATES,
        "weight_items": selectors.weight_items(table.weights),
    }
    template = "assessment/table.html#results" if request.htmx else "assessment/table.html"
    return render(request, template, context, status=_status(form))


def _figure_request(request: StaffRequest) -> tuple[FilterForm, selectors.Filters, str, Unit | None]:
    """The filters, the figure and the unit of a drill-down (404 for an unknown figure or a unit she cannot see)."""
    form, filters = _filters(request)
    key = request.GET.get("figure") or "received"
    if key not in selectors.FIGURES:
        raise Http404
    unit = None
    if request.GET.get("unit"):
        try:
            unit = access.access_unit(request.user, int(request.GET["unit"]))
        except ValueError as error:
            raise Http404 from error
    return form, filters, key, unit


@login_required
@require_GET
def assessment_cases(request: StaffRequest) -> HttpResponse:
    """The work orders behind one figure of the table: exactly those it counted."""
    _require_reader(request)
    form, filters, key, unit = _figure_request(request)
    orders = selectors.figure_work_orders(request.user, filters, key, unit=unit)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {**filter_query(filters), "figure": key, **({"unit": str(unit.pk)} if unit else {})}
    context = {
        "form": form,
        "filters": filters,
        "figure": selectors.FIGURES[key],
        "key": key,
        "unit": unit,
        "page": page,
        "query": urlencode(query),
        "may_request": services.may_request_exclusions(request.user),
    }
    return render(request, "assessment/cases.html", context, status=_status(form))


# --- exports ----------------------------------------------------------------------------------------


def _download(lines_or_bytes: Any, *, file_format: str, name: str) -> HttpResponse:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if file_format == "csv":
        response: HttpResponse = StreamingHttpResponse(lines_or_bytes, content_type=exports.CSV_CONTENT_TYPE)  # type: ignore[assignment]
    else:
        response = HttpResponse(lines_or_bytes, content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{file_format}"'
    return response


@login_required
@require_GET
def assessment_export(request: StaffRequest, file_format: str) -> HttpResponse:
    """The assessment table as CSV or Excel; audited before it is sent."""
    _require_reader(request)
    _form, filters = _filters(request)
    table = selectors.assessment(request.user, filters)
    services.record_export(by=request.user, what="table", filters=filters, rows=len(table.rows), file_format=file_format, ip_address=client_address(request))
    rows = exports.table_rows(table)
    if file_format == "csv":
        return _download(exports.csv_lines(rows), file_format="csv", name="assessment")
    return _download(exports.xlsx_bytes(rows, title=_("Assessment")), file_format="xlsx", name="assessment")


@login_required
@require_GET
def assessment_cases_export(request: StaffRequest, file_format: str) -> HttpResponse:
    """The work orders behind one figure as CSV or Excel (no confidential field); audited before it is sent."""
    _require_reader(request)
    _form, filters, key, unit = _figure_request(request)
    orders = selectors.figure_work_orders(request.user, filters, key, unit=unit)
    services.record_export(
        by=request.user,
        what="work_orders",
        filters=filters,
        rows=orders.count(),
        file_format=file_format,
        ip_address=client_address(request),
        figure=key,
        unit=unit,
    )
    rows = exports.work_order_rows(orders)
    if file_format == "csv":
        return _download(exports.csv_lines(rows), file_format="csv", name="work-orders")
    return _download(exports.xlsx_bytes(rows, title=_("Work orders")), file_format="xlsx", name="work-orders")


# --- the leader's dashboard ---------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: StaffRequest) -> HttpResponse:
    """The leader's dashboard for her scope: counts, trends, the assessment table, overdue and supervised work."""
    _require_reader(request)
    form, filters = _filters(request)
    board = selectors.dashboard(request.user, filters)
    charts = selectors.chart_data(board)
    breakdowns = [
        ("category", _("By category"), board.by_category),
        ("channel", _("By channel"), board.by_channel),
        ("region", _("By region"), board.by_region),
    ]
    context = {
        "form": form,
        "board": board,
        "table": board.assessment,
        "charts": charts,
        "breakdowns": breakdowns,
        "query": urlencode(filter_query(filters)),
        "rates": selectors.RATES,
    }
    return render(request, "assessment/dashboard.html", context, status=_status(form))


# --- exclusions ------------------------------------------------------------------------------------------


def _access_case(user: Any, pk: int) -> Case:
    try:
        return Case.objects.visible_to(user).select_related("category", "region").get(pk=pk)
    except (Case.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def _access_exclusion(user: Any, pk: int) -> Exclusion:
    try:
        return (
            Exclusion.objects.visible_to(user)
            .select_related("case__region", "case__category", "work_order__unit", "requesting_unit", "requested_by", "decided_by")
            .get(pk=pk)
        )
    except (Exclusion.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


@login_required
@require_GET
def exclusion_list(request: StaffRequest) -> HttpResponse:
    """Exclusion requests of her scope: those waiting for her decision first, then the others."""
    if not (services.may_request_exclusions(request.user) or services.may_decide_exclusions(request.user)):
        raise PermissionDenied
    exclusions = (
        Exclusion.objects.visible_to(request.user)
        .select_related("case", "work_order__unit", "requesting_unit", "requested_by", "decided_by")
        .order_by("-created_at", "-id")
    )
    page = Paginator(exclusions, PAGE_SIZE).get_page(request.GET.get("page"))
    pending_ids = set()
    if services.may_decide_exclusions(request.user):
        pending_ids = {
            exclusion.pk for exclusion in page.object_list if exclusion.status == ExclusionStatus.PENDING and exclusion.requested_by_id != request.user.pk
        }
    return render(request, "assessment/exclusion_list.html", {"page": page, "decidable": pending_ids})


@login_required
def exclusion_request(request: StaffRequest, pk: int) -> HttpResponse:
    """Ask a supervisor to leave this case, or one work order of it, out of the assessment."""
    case = _access_case(request.user, pk)
    units = services.requesting_units(request.user, case)
    if not units.exists():
        raise PermissionDenied
    form = ExclusionRequestForm(request.POST if request.method == "POST" else None, units=units, orders=services.excludable_work_orders(request.user, case))
    conflict = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:request_exclusion:{case.pk}",
                key=data["idempotency_key"],
                create=lambda: str(
                    services.request_exclusion(by=request.user, case=case, unit=data["unit"], reason=data["reason"], work_order=data["work_order"]).pk
                ),
            )
            messages.success(request, _("The request has been sent to the supervisors.") if ran else _("This was already done: the form was sent twice."))
            return redirect("exclusion_list")
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            conflict = str(error)
    status = 409 if conflict else (422 if form.errors else 200)
    return render(request, "assessment/exclusion_request.html", {"case": case, "form": form, "conflict": conflict}, status=status)


@login_required
def exclusion_decide(request: StaffRequest, pk: int) -> HttpResponse:
    """A supervisor approves or refuses an exclusion request."""
    exclusion = _access_exclusion(request.user, pk)
    if not services.supervises_case(request.user, exclusion.case) or exclusion.requested_by_id == request.user.pk:
        raise PermissionDenied
    form = ExclusionDecisionForm(request.POST if request.method == "POST" else None)
    conflict = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:decide_exclusion:{exclusion.pk}",
                key=data["idempotency_key"],
                create=lambda: str(
                    services.decide_exclusion(by=request.user, exclusion=exclusion, approve=data["decision"] == "approve", note=data["note"]).pk
                ),
            )
            messages.success(request, _("The decision has been recorded.") if ran else _("This was already done: the form was sent twice."))
            return redirect("exclusion_list")
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            conflict = str(error)
    status = 409 if conflict else (422 if form.errors else 200)
    possible = exclusion.status == ExclusionStatus.PENDING
    return render(
        request, "assessment/exclusion_decide.html", {"exclusion": exclusion, "form": form, "conflict": conflict, "possible": possible}, status=status
    )


# --- weights ---------------------------------------------------------------------------------------------


@login_required
def weights(request: StaffRequest) -> HttpResponse:
    """The weights of the composite score: the version in force, a form for new ones, and the history."""
    if not services.may_edit_weights(request.user):
        raise PermissionDenied
    current = AssessmentWeights.objects.current()
    form = WeightsForm(request.POST if request.method == "POST" else None, current=current)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope="page:save_weights",
                key=data["idempotency_key"],
                create=lambda: str(services.save_weights(by=request.user, weights=form.weights(), note=data["note"]).pk),
            )
            messages.success(request, _("The new weights are in force.") if ran else _("This was already done: the form was sent twice."))
            return redirect(reverse("assessment_weights"))
        except ValidationError as error:
            apply_errors(form, error)
    history = AssessmentWeights.objects.select_related("changed_by").order_by("-created_at", "-id")[:50]
    return render(request, "assessment/weights.html", {"form": form, "current": current, "history": history}, status=422 if form.errors else 200)
