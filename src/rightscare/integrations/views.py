"""Pages and endpoints of the integrations.

``POST /channels/cti/events`` is the telephony system's callback: no session, no CSRF token,
authenticated by its HMAC signature alone (see :mod:`.signing` and
docs/operations/integrations.md). ``/intake/cti/call/`` is the operator's pop-up, polled by
the hotline screen. The other pages belong to system administrators: webhook
subscriptions, the delivery log (webhooks and 12345 report-backs) and the operators'
extensions.
"""

from __future__ import annotations

import json
from typing import Any

import phonenumbers
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from rightscare.cases import selectors as case_selectors
from rightscare.core import identity
from rightscare.core.forms import apply_errors
from rightscare.core.problems import problem_response
from rightscare.integrations import services, signing
from rightscare.integrations.forms import DeliveryFilterForm, ExtensionForm, SubscriptionForm
from rightscare.integrations.models import Delivery, OperatorExtension, WebhookSubscription
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.roles import Capability

PAGE_SIZE = 50
#: The largest event body read (a call event is a few hundred bytes).
MAX_CTI_BODY = 16 * 1024


def _require_manager(request: StaffRequest) -> None:
    if not services.may_manage_integrations(request.user):
        raise PermissionDenied


# --- the telephony system's callback -----------------------------------------------------------


@csrf_exempt
@require_POST
def cti_events(request: HttpRequest) -> HttpResponse:
    """Accept one signed call event; 403 (nothing stored) for a bad signature or a stale timestamp.

    A replay (an event id or signature already accepted) answers 200 ``duplicate`` so that
    the sender stops retrying, and changes nothing.
    """
    try:
        body = request.body
    except RawPostDataException:
        # A multipart form, already streamed by a middleware: not an event we can verify.
        return problem_response(403, detail="The signature is missing or wrong.")
    if len(body) > MAX_CTI_BODY:
        return problem_response(413, detail="The event is too large.")
    try:
        outcome = services.receive_cti_event(
            body=body,
            timestamp=request.headers.get(signing.TIMESTAMP_HEADER, ""),
            signature=request.headers.get(signing.SIGNATURE_HEADER, ""),
        )
    except services.CtiRefused as refused:
        return problem_response(refused.status, detail=refused.detail, errors=refused.errors)
    answer: dict[str, Any] = {"status": outcome.status}
    if outcome.call is not None:
        answer.update(call_id=outcome.call.call_id, state=outcome.call.state)
    return HttpResponse(json.dumps(answer), content_type="application/json")


# --- the operator's pop-up ------------------------------------------------------------------------


@login_required
def cti_popup(request: StaffRequest) -> HttpResponse:
    """The call ringing (or just ended) at her extension, with the caller's history in her scope (htmx fragment).

    The history is ``cases.selectors.caller_history``, the one behind ``/api/v1/caller-history``
    and the screen's own panel: scoped to her, and a respondent's number shows nothing of
    the cases against that person.
    """
    if not access.has_capability(request.user, Capability.RECORD_CONTACTS):
        raise PermissionDenied
    call = services.current_call(user=request.user)
    context: dict[str, Any] = {"call": call, "history": None}
    if call is not None and call.caller_phone:
        context["history"] = case_selectors.caller_history(by=request.user, phone=call.caller_phone)
        context["phone"] = identity.format_phone(call.caller_phone)
        number = phonenumbers.parse(call.caller_phone, None)
        # What she types in the screen's phone field: the national form (138 0013 8000, 0755 2345 6789).
        context["national_phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return render(request, "integrations/_cti_popup.html", context)


# --- webhook subscriptions ----------------------------------------------------------------------------


@login_required
def webhook_list(request: StaffRequest) -> HttpResponse:
    """Every webhook subscription, with its events and where it sends."""
    _require_manager(request)
    subscriptions = WebhookSubscription.objects.select_related("region").order_by("name", "id")
    return render(request, "integrations/webhook_list.html", {"subscriptions": subscriptions})


def _subscription_form_view(request: StaffRequest, subscription: WebhookSubscription | None) -> HttpResponse:
    initial: dict[str, Any] = {"active": True}
    if subscription is not None:
        initial = {
            "name": subscription.name,
            "url": subscription.url,
            "events": subscription.events,
            "region": subscription.region_id,
            "active": subscription.active,
        }
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_subscription(by=request.user, subscription=subscription, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The webhook subscription has been saved."))
            return redirect("webhook_edit", pk=saved.pk)
    deliveries = subscription.deliveries.order_by("-created_at", "-id")[:20] if subscription is not None else []
    context = {"form": form, "subscription": subscription, "deliveries": deliveries}
    return render(request, "integrations/webhook_form.html", context, status=422 if form.errors else 200)


@login_required
def webhook_create(request: StaffRequest) -> HttpResponse:
    """A new subscription (its secret generated unless one is given)."""
    _require_manager(request)
    return _subscription_form_view(request, None)


@login_required
def webhook_edit(request: StaffRequest, pk: int) -> HttpResponse:
    """Change a subscription; shows its secret (for the receiver's configuration) and its latest deliveries."""
    _require_manager(request)
    return _subscription_form_view(request, get_object_or_404(WebhookSubscription, pk=pk))


# --- the delivery log ------------------------------------------------------------------------------------


@login_required
def delivery_list(request: StaffRequest) -> HttpResponse:
    """Every delivery (webhooks and 12345 report-backs), newest first, filterable by kind and status."""
    _require_manager(request)
    filters = DeliveryFilterForm(request.GET or None)
    deliveries = Delivery.objects.select_related("subscription", "case").order_by("-created_at", "-id")
    if filters.is_valid():
        if filters.cleaned_data["kind"]:
            deliveries = deliveries.filter(kind=filters.cleaned_data["kind"])
        if filters.cleaned_data["status"]:
            deliveries = deliveries.filter(status=filters.cleaned_data["status"])
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "integrations/delivery_list.html", {"page": page, "filters": filters})


@login_required
def delivery_detail(request: StaffRequest, pk: int) -> HttpResponse:
    """One delivery: what was sent (no personal data by construction) and every attempt."""
    _require_manager(request)
    delivery = get_object_or_404(Delivery.objects.select_related("subscription", "case"), pk=pk)
    body = services.encode_body(delivery.payload).decode("utf-8")
    pretty = json.dumps(delivery.payload, ensure_ascii=False, indent=2, sort_keys=True)
    return render(
        request,
        "integrations/delivery_detail.html",
        {"delivery": delivery, "attempts": delivery.attempt_log.order_by("-at", "-id"), "pretty": pretty, "body_bytes": len(body.encode("utf-8"))},
    )


@login_required
@require_POST
def delivery_retry(request: StaffRequest, pk: int) -> HttpResponse:
    """Send a failed delivery again."""
    _require_manager(request)
    delivery = get_object_or_404(Delivery, pk=pk)
    try:
        services.retry_delivery(by=request.user, delivery=delivery)
        messages.success(request, _("The delivery will be sent again."))
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    return redirect("delivery_detail", pk=delivery.pk)


# --- operators' extensions -----------------------------------------------------------------------------------


def _extension_page(request: StaffRequest, form: ExtensionForm, status: int = 200) -> HttpResponse:
    mappings = OperatorExtension.objects.select_related("user").order_by("extension")
    return render(request, "integrations/extension_list.html", {"mappings": mappings, "form": form}, status=status)


@login_required
def extension_list(request: StaffRequest) -> HttpResponse:
    """Which operator answers at each telephone extension; add or change a mapping."""
    _require_manager(request)
    form = ExtensionForm(request.POST or None)
    if request.method != "POST":
        return _extension_page(request, form)
    if form.is_valid():
        try:
            services.map_extension(by=request.user, extension=form.cleaned_data["extension"], user=form.cleaned_data["user"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The extension has been saved."))
            return redirect("extension_list")
    return _extension_page(request, form, status=422)


@login_required
@require_POST
def extension_remove(request: StaffRequest, pk: int) -> HttpResponse:
    """Stop routing an extension's calls to anyone."""
    _require_manager(request)
    mapping = get_object_or_404(OperatorExtension, pk=pk)
    services.unmap_extension(by=request.user, mapping=mapping)
    messages.success(request, _("The extension has been removed."))
    return redirect("extension_list")
