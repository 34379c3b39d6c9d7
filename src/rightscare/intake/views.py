"""Pages of intake: the hotline screen and its live panels, the operator's recent contacts,
and the duty roster.

The screen saves a call with ``intake.services.take_call`` (people, case, contact, and on
request the emergency hand-off, the direct answer or the dispatch, in one transaction)
inside ``run_once``, so a double click creates one case. A service's ``ValidationError``
re-renders the screen (422) with the error next to its field and nothing saved. Records
outside her scope answer 404, exactly like missing ones; 403 only when she may not use
the page at all.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rightscare.audit.services import record_read
from rightscare.cases import deadlines, selectors
from rightscare.cases import services as case_services
from rightscare.cases.models import Case, DutyShift, Urgency
from rightscare.core import identity
from rightscare.core.errors import Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.intake import services
from rightscare.intake.forms import AttachContactForm, ContactFilterForm, DutyShiftForm, IntakeForm, known_callers
from rightscare.intake.models import Channel, Contact, Outcome
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.models import Unit
from rightscare.org.roles import Capability

PAGE_SIZE = 50
#: Shifts of the roster shown per page (the coming ones first).
ROSTER_PAGE_SIZE = 30


def _require(request: StaffRequest, capability: Capability) -> None:
    if not access.has_capability(request.user, capability):
        raise PermissionDenied


def case_url(case_pk: int) -> str:
    """The case page."""
    return reverse("case_detail", args=[case_pk])


# --- the hotline screen ------------------------------------------------------------------------


def is_working_time(unit: Unit, at: datetime.datetime) -> bool:
    """Whether ``at`` falls in the working hours of the unit's calendar."""
    spec = deadlines.calendar_for(unit)
    local = at.astimezone(spec.zone)
    return spec.is_working_day(local.date()) and any(start <= local.time() < end for start, end in spec.working_periods)


@dataclass
class Checks:
    """What the screen shows before saving: who would handle the case, where an emergency goes,
    prompts for sensitive categories, and possible duplicates."""

    category: Any = None
    region: Any = None
    registering: Unit | None = None
    dispatch_from: Unit | None = None
    suggestion: case_services.Suggestion | None = None
    suggested_ids: str = ""
    emergency: bool = False
    after_hours: bool = False
    route_unit: Unit | None = None
    route_shift: DutyShift | None = None
    duplicates: list[Case] = field(default_factory=list)

    @property
    def shows_route(self) -> bool:
        return self.emergency or self.after_hours


def screen_checks(user: Any, form: IntakeForm) -> Checks:
    """The panels' content for the form's current values (valid or not)."""
    data = getattr(form, "cleaned_data", {})
    checks = Checks(category=data.get("category"), region=data.get("region"), registering=data.get("unit") or form.recording_units.first())
    checks.emergency = data.get("urgency") == Urgency.EMERGENCY
    if checks.registering is not None:
        checks.after_hours = not is_working_time(checks.registering, timezone.now())
        if checks.shows_route:
            checks.route_unit, checks.route_shift = selectors.emergency_route(checks.registering)
    checks.dispatch_from = services.dispatching_unit(user, checks.registering, checks.region)
    suggest_from = checks.dispatch_from or checks.registering
    if checks.category is not None and checks.region is not None and suggest_from is not None:
        checks.suggestion = case_services.suggest_dispatch(
            dispatching_unit=suggest_from, category=checks.category, region=checks.region, accused_unit=data.get("accused_unit")
        )
        if checks.suggestion.lead is not None:
            checks.suggested_ids = ",".join(str(pk) for pk in [checks.suggestion.lead.pk, *(u.pk for u in checks.suggestion.cohandlers)])
    caller = form.caller if hasattr(form, "known_callers") else None
    if data.get("caller_phone") or caller is not None:
        checks.duplicates = selectors.possible_duplicates(by=user, category=checks.category, person=caller, phone=data.get("caller_phone", ""))
    return checks


def history_context(user: Any, phone: str, chosen: Any) -> dict[str, Any]:
    """The caller-history panel: her earlier cases and calls in the operator's scope."""
    if not phone:
        return {"history": None}
    history = selectors.caller_history(by=user, phone=phone)
    return {
        "history": history,
        "known_callers": known_callers(user, phone, history),
        "chosen_caller": chosen,
        "masked_phone": identity.mask_phone(phone),
    }


def _expected_units(raw: str) -> list[int] | None:
    if not raw.strip():
        return None
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        return []


def _screen(request: StaffRequest, form: IntakeForm, status: int = 200) -> HttpResponse:
    data = getattr(form, "cleaned_data", {})
    context = {
        "form": form,
        "checks": screen_checks(request.user, form),
        **history_context(request.user, data.get("caller_phone", ""), data.get("existing_caller")),
    }
    return render(request, "intake/take_call.html", context, status=status)


def _attach_hotline_call(request: StaffRequest, contact: Contact) -> None:
    """Attach the telephone call shown in the screen's pop-up (hidden field ``cti_call``) to the contact just saved.

    In the transaction that saves the contact. The hotline adapter sits above intake (it
    links its calls to contacts), hence the late import; a stale or foreign call id is ignored.
    """
    from rightscare.integrations.services import attach_call

    attach_call(by=request.user, call_id=request.POST.get("cti_call", ""), contact=contact)


def _attach_call(request: StaffRequest, form: IntakeForm, case: Case) -> HttpResponse:
    """Record the call on the case it duplicates instead of opening a new one."""
    data = form.cleaned_data
    transfer = data["channel"] == Channel.PLATFORM_12345

    def attach() -> str:
        contact = services.record_contact(
            by=request.user,
            unit=data["unit"],
            channel=data["channel"],
            content=data["content"],
            caller=form.caller,
            caller_phone=data["caller_phone"],
            case=case,
            outcome=Outcome.ATTACHED,
            external_ticket_number=data["external_ticket_number"] if transfer else "",
            external_deadline=data["external_deadline"] if transfer else None,
        )
        _attach_hotline_call(request, contact)
        return str(case.pk)

    result, ran = run_once(user_id=request.user.pk, scope="page:take_call", key=data["idempotency_key"], create=attach)
    if ran:
        messages.success(request, _("The call has been added to case %(number)s.") % {"number": case.number})
    return redirect(case_url(int(result)))


@login_required
def take_call(request: StaffRequest) -> HttpResponse:
    """The hotline screen: one call, saved as a case (dispatched at once if she asks), answered
    on the spot, or added to a case it duplicates."""
    _require(request, Capability.RECORD_CONTACTS)
    form = IntakeForm(request.POST or None, user=request.user)
    if request.method != "POST":
        return _screen(request, form)
    if not form.is_valid():
        return _screen(request, form, status=422)
    data = form.cleaned_data
    answer = request.POST.get("action") == "answer"
    try:
        if form.attach_to:
            assert form.attach_case is not None  # the form is valid only with a case she may add to
            return _attach_call(request, form, form.attach_case)
        if answer and not data["reply"].strip():
            form.add_error("reply", _("Write the answer given."))
            return _screen(request, form, status=422)
        dispatch_from = None
        if not answer and data.get("dispatch_now"):
            dispatch_from = services.dispatching_unit(request.user, data["unit"], data["region"])
            if dispatch_from is None:
                form.add_error("dispatch_now", _("You do not dispatch for this place: save without dispatching."))
                return _screen(request, form, status=422)
        arguments = form.take_call_arguments(
            dispatch_from=dispatch_from, expected_units=_expected_units(request.POST.get("suggested_units", "")), answer=answer
        )

        issued: list[Any] = []

        def save() -> str:
            taken = services.take_call(by=request.user, **arguments)
            _attach_hotline_call(request, taken.contact)
            issued.append(taken.tracking)
            return str(taken.case.pk)

        result, ran = run_once(user_id=request.user.pk, scope="page:take_call", key=data["idempotency_key"], create=save)
    except ValidationError as error:
        apply_errors(form, error)
        return _screen(request, form, status=422)
    except (Conflict, PermissionDenied) as error:
        form.add_error(None, str(error) or _("You may not record this call for this unit."))
        return _screen(request, form, status=422)
    if ran:
        case = Case.objects.get(pk=int(result))
        messages.success(request, _("Case %(number)s has been saved.") % {"number": case.number})
        tracking = issued[0] if issued else None
        if tracking is not None:
            # Shown once, never stored in the clear: she reads them out to the caller now.
            messages.info(
                request,
                _("Read these to the caller, they are shown only once. Tracking code: %(code)s · PIN: %(pin)s")
                % {"code": tracking.display_code, "pin": tracking.pin},
                extra_tags="tracking-code",
            )
    else:
        messages.info(request, _("This was already saved: the form was sent twice."))
    return redirect(case_url(int(result)))


@login_required
@require_POST
def caller_history(request: StaffRequest) -> HttpResponse:
    """The caller-history panel (htmx): only for a complete, valid number; no prefix search."""
    _require(request, Capability.RECORD_CONTACTS)
    form = IntakeForm(request.POST, user=request.user)
    form.is_valid()
    data = form.cleaned_data
    context = {"form": form, **history_context(request.user, data.get("caller_phone", ""), data.get("existing_caller"))}
    context["phone_typed"] = bool(request.POST.get("caller_phone", "").strip())
    return render(request, "intake/take_call.html#caller_history", context)


@login_required
@require_POST
def screen_panel(request: StaffRequest) -> HttpResponse:
    """The suggestions panel (htmx): responsible units, emergency route, prompts, duplicates."""
    _require(request, Capability.RECORD_CONTACTS)
    form = IntakeForm(request.POST, user=request.user)
    form.is_valid()
    return render(request, "intake/take_call.html#checks", {"form": form, "checks": screen_checks(request.user, form)})


# --- contacts ----------------------------------------------------------------------------------


def my_contacts(user: Any) -> QuerySet[Contact]:
    """Contacts she recorded or her units recorded."""
    return Contact.objects.filter(Q(unit__in=access.own_units(user)) | Q(operator=user))


def access_contact(user: Any, pk: int) -> Contact:
    """Fetch one of her or her units' contacts, or 404."""
    try:
        return my_contacts(user).select_related("case", "unit", "operator", "caller").get(pk=pk)
    except Contact.DoesNotExist as error:
        raise Http404 from error


@login_required
def contact_list(request: StaffRequest) -> HttpResponse:
    """Her and her units' recent contacts, newest first, filterable by channel."""
    _require(request, Capability.RECORD_CONTACTS)
    filters = ContactFilterForm(request.GET or None)
    contacts = my_contacts(request.user).select_related("case", "unit", "operator", "caller").order_by("-occurred_at", "-id")
    channel = filters.cleaned_data["channel"] if filters.is_valid() else ""
    if channel:
        contacts = contacts.filter(channel=channel)
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    for contact in page.object_list:
        contact.masked_phone = identity.mask_phone(contact.caller_phone)  # type: ignore[attr-defined]
    context = {"page": page, "filters": filters}
    template = "intake/contact_list.html#results" if request.htmx else "intake/contact_list.html"
    return render(request, template, context)


def _contact_page(request: StaffRequest, contact: Contact, form: AttachContactForm | None = None, status: int = 200) -> HttpResponse:
    may_change = access.member_of_any(request.user, {contact.unit_id})
    return render(
        request,
        "intake/contact_detail.html",
        {
            "contact": contact,
            "phone": identity.format_phone(contact.caller_phone),
            "attach_form": form or AttachContactForm(user=request.user),
            "may_change": may_change,
            "case_link": case_url(contact.case_id) if contact.case_id else "",
        },
        status=status,
    )


@login_required
def contact_detail(request: StaffRequest, pk: int) -> HttpResponse:
    """One contact: what was said (a sensitive read, audited), its case, attach or detach."""
    _require(request, Capability.RECORD_CONTACTS)
    contact = access_contact(request.user, pk)
    record_read(actor=request.user, obj=contact, unit=contact.unit, fields=("content", "caller_phone"))
    return _contact_page(request, contact)


@login_required
@require_POST
def contact_attach(request: StaffRequest, pk: int) -> HttpResponse:
    """Attach the contact to another case (or a first one)."""
    _require(request, Capability.RECORD_CONTACTS)
    contact = access_contact(request.user, pk)
    form = AttachContactForm(request.POST, user=request.user)
    if form.is_valid():
        case = form.cleaned_data["case_number"]
        try:
            _result, _ran = run_once(
                user_id=request.user.pk,
                scope=f"page:attach_contact:{contact.pk}",
                key=form.cleaned_data["idempotency_key"],
                create=lambda: str(services.attach_contact(contact=contact, case=case, by=request.user).case_id),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The contact is now on case %(number)s.") % {"number": case.number})
            return redirect("intake_contact_detail", pk=contact.pk)
    return _contact_page(request, contact, form, status=422)


@login_required
@require_POST
def contact_detach(request: StaffRequest, pk: int) -> HttpResponse:
    """Take the contact off its case; it stays in the unit's contacts."""
    _require(request, Capability.RECORD_CONTACTS)
    contact = access_contact(request.user, pk)
    if contact.case_id is not None:
        services.detach_contact(contact=contact, by=request.user)
        messages.success(request, _("The contact has been taken off its case."))
    return redirect("intake_contact_detail", pk=contact.pk)


# --- duty roster ---------------------------------------------------------------------------------


def access_roster_unit(user: Any, pk: int) -> Unit:
    """A unit whose roster she may read (any unit she may see), or 404."""
    return access.access_unit(user, pk)


@login_required
def duty_overview(request: StaffRequest) -> HttpResponse:
    """Her units' rosters: who is on duty now, and where an emergency would go."""
    _require(request, Capability.VIEW_ORGANISATION)
    now = timezone.now()
    rows = []
    for unit in access.own_units(request.user).select_related("region", "kind").order_by("path"):
        route_unit, route_shift = selectors.emergency_route(unit, now)
        rows.append({"unit": unit, "shift": selectors.on_duty(unit, now), "route_unit": route_unit, "route_shift": route_shift})
    return render(request, "intake/duty_overview.html", {"rows": rows})


def _roster_page(request: StaffRequest, unit: Unit, form: DutyShiftForm | None, status: int = 200) -> HttpResponse:
    now = timezone.now()
    shifts = DutyShift.objects.filter(unit=unit).select_related("user").order_by("-starts_at", "-id")
    page = Paginator(shifts, ROSTER_PAGE_SIZE).get_page(request.GET.get("page"))
    may_edit = case_services.may_keep_duty_roster(request.user, unit)
    context = {
        "unit": unit,
        "page": page,
        "now": now,
        "current": selectors.on_duty(unit, now),
        "may_edit": may_edit,
        "form": (form or DutyShiftForm(unit=unit)) if may_edit else None,
    }
    return render(request, "intake/duty_roster.html", context, status=status)


@login_required
def duty_roster(request: StaffRequest, pk: int) -> HttpResponse:
    """A unit's duty roster; its dispatchers and administrators add and remove shifts."""
    _require(request, Capability.VIEW_ORGANISATION)
    unit = access_roster_unit(request.user, pk)
    return _roster_page(request, unit, None)


@login_required
@require_POST
def duty_add(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.VIEW_ORGANISATION)
    unit = access_roster_unit(request.user, pk)
    if not case_services.may_keep_duty_roster(request.user, unit):
        raise PermissionDenied
    form = DutyShiftForm(request.POST, unit=unit)
    if form.is_valid():
        data = form.cleaned_data
        try:
            _result, ran = run_once(
                user_id=request.user.pk,
                scope=f"page:add_duty_shift:{unit.pk}",
                key=data["idempotency_key"],
                create=lambda: str(
                    case_services.add_duty_shift(
                        by=request.user, unit=unit, user=data["user"], starts_at=data["starts_at"], ends_at=data["ends_at"], phone=data["phone"]
                    ).pk
                ),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if ran:
                messages.success(request, _("The shift has been added."))
            return redirect("duty_roster", pk=unit.pk)
    return _roster_page(request, unit, form, status=422)


@login_required
@require_POST
def duty_remove(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.VIEW_ORGANISATION)
    try:
        shift = DutyShift.objects.select_related("unit").get(pk=pk, unit__in=access.visible_units(request.user))
    except DutyShift.DoesNotExist as error:
        raise Http404 from error
    if not case_services.may_keep_duty_roster(request.user, shift.unit):
        raise PermissionDenied
    try:
        case_services.remove_duty_shift(by=request.user, shift=shift)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The shift has been removed."))
    return redirect("duty_roster", pk=shift.unit_id)
