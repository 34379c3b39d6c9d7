"""Pages of the petitioner's loop: the public request form and tracking page (no login), and
the intake queue where operators confirm, attach or reject what came in.

The public pages add no history entries of their own: their forms are answered in place
by htmx (no ``hx-push-url``), their links replace the current entry (``static/js/public.js``)
and the quick-exit button leaves with ``location.replace()``. They are never cached
(``Cache-Control: no-store``) and send no referrer. Tracking answers a wrong PIN exactly as
it answers an unknown code (same template, same status), and wrong attempts are
rate-limited per address and per code as typed.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from rightscare.audit.services import record_read
from rightscare.cases import attachments as case_files
from rightscare.cases.models import Attachment
from rightscare.core import identity
from rightscare.core.errors import Conflict
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.intake.models import Channel, Contact, ReviewState
from rightscare.org.http import StaffRequest
from rightscare.petitioners import codes, ratelimit, services
from rightscare.petitioners.forms import AttachSubmissionForm, ConfirmSubmissionForm, RejectSubmissionForm, SubmissionForm, TrackingForm
from rightscare.petitioners.models import Submission, SubmissionFile

#: The largest request the public form accepts: three files of 10 MB and the text.
MAX_REQUEST_BYTES = services.MAX_FILES * case_files.MAX_ATTACHMENT_BYTES + 1024 * 1024
PAGE_SIZE = 50


def _public(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def _public_context() -> dict[str, Any]:
    return {"quick_exit_url": settings.PUBLIC_QUICK_EXIT_URL}


def _render_public(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return _public(render(request, template, {**_public_context(), **context}, status=status))


# --- submitting ------------------------------------------------------------------------------


def _submit_panel(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    template = "petitioners/submit.html#panel" if getattr(request, "htmx", False) else "petitioners/submit.html"
    return _render_public(request, template, context, status=status)


def _too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_REQUEST_BYTES
    except ValueError:
        return True


@never_cache
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    """The public request form; a submission is answered in place with the tracking code and PIN."""
    if request.method != "POST":
        return _submit_panel(request, {"form": SubmissionForm()})
    if _too_large(request):
        return _submit_panel(request, {"form": SubmissionForm(), "problem": _("The files are too large: at most 3 files of 10 MB each.")}, status=413)
    if not ratelimit.hit(ratelimit.submission_per_ip(), ratelimit.client_ip(request)):
        return _submit_panel(request, {"form": SubmissionForm(request.POST), "problem": _("Too many requests from here. Please try again later.")}, status=429)
    form = SubmissionForm(request.POST, request.FILES)
    if form.is_spam:
        # Looks accepted to the bot; nothing is recorded and the code is not a real one.
        return _submit_panel(request, {"result": {"code": codes.display(codes.new_code()), "pin": codes.new_pin(), "expected_at": None}})
    if not form.is_valid():
        return _submit_panel(request, {"form": form}, status=422)
    files = request.FILES.getlist("uploads")
    try:
        result = services.submit_request(
            channel=Channel.WEB_FORM,
            submission=form.submission(files, get_language() or ""),
            trusted=services.is_trusted_channel(Channel.WEB_FORM),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ValidationError as error:
        if hasattr(error, "error_dict") and "file" in error.error_dict:
            # The cleaning of one file (cases.attachments) names its field "file".
            error = ValidationError({("uploads" if name in ("file", "files") else name): found for name, found in error.error_dict.items()})
        apply_errors(form, error)
        return _submit_panel(request, {"form": form}, status=422)
    except services.RateLimited:
        return _submit_panel(request, {"form": form, "problem": _("Too many requests for this phone number today. Please call the hotline.")}, status=429)
    except Conflict as error:
        return _submit_panel(request, {"form": form, "problem": str(error)}, status=409)
    return _submit_panel(request, {"result": {"code": result.code, "pin": result.pin, "expected_at": result.expected_at, "case": result.case is not None}})


# --- tracking --------------------------------------------------------------------------------


def rating_slot(tracking: Any) -> dict[str, Any]:
    """The rating form's context, when ``rightscare.ratings`` provides ``public.rating_context(case)``
    and a round of her case waits for her rating; empty otherwise (the slot then renders nothing).

    The slot (``petitioners/_rating_slot.html``) includes ``ratings/_public_form.html`` with
    ratings' keys (``rating_round``, ``rating_form``, ``rating_action``): the form carries
    ratings' own signed token, handed out only to a page that identified her (code and PIN).
    """
    if not apps.is_installed("rightscare.ratings") or importlib.util.find_spec("rightscare.ratings.public") is None:
        return {}
    case = services.current_case(tracking)
    if case is None:
        return {}
    module = importlib.import_module("rightscare.ratings.public")
    rating_context = getattr(module, "rating_context", None)
    context = rating_context(case) if rating_context is not None else None
    return dict(context) if context else {}


def _track_result(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    if getattr(request, "htmx", False):
        return _render_public(request, "petitioners/track.html#result", context, status=status)
    return _render_public(request, "petitioners/track.html", {"form": TrackingForm(), **context}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    """Follow a request: the code alone shows the status and the expected date; with the PIN,
    also the responsible unit and the public progress notes (and the rating form)."""
    if request.method != "POST":
        return _render_public(request, "petitioners/track.html", {"form": TrackingForm()})
    ip = ratelimit.client_ip(request)
    limited = {"outcome": "limited"}
    if not ratelimit.hit(ratelimit.tracking_per_ip(), ip) or ratelimit.exceeded(ratelimit.wrong_per_ip(), ip):
        return _track_result(request, limited, status=429)
    form = TrackingForm(request.POST)
    if not form.is_valid():
        return _track_result(request, {"outcome": "invalid"})
    pin = form.cleaned_data["pin"].strip()
    typed = form.normalised_code
    if pin and ratelimit.exceeded(ratelimit.wrong_per_code(), typed):
        return _track_result(request, limited, status=429)
    tracking = services.find_tracking(form.cleaned_data["code"])
    if not pin:
        if tracking is None:
            ratelimit.hit(ratelimit.wrong_per_ip(), ip)
            return _track_result(request, {"outcome": "unknown"})
        return _track_result(request, {"outcome": "status", "status": services.public_status(tracking)})
    if not services.check_pin(tracking, pin):
        ratelimit.hit(ratelimit.wrong_per_ip(), ip)
        ratelimit.hit(ratelimit.wrong_per_code(), typed)
        return _track_result(request, {"outcome": "wrong"})
    assert tracking is not None
    services.note_use(tracking)
    details = services.public_details(tracking)
    return _track_result(request, {"outcome": "details", "status": details.status, "details": details, **rating_slot(tracking)})


# --- the intake queue --------------------------------------------------------------------------


def _require_intake(request: StaffRequest) -> None:
    if not services._intake_units(request.user):
        raise PermissionDenied


def access_submission(user: Any, pk: int) -> Contact:
    """A self-submitted contact in her queue's reach, or 404."""
    try:
        return services.submissions_for(user).select_related("submission", "submission__category", "submission__region", "unit", "case").get(pk=pk)
    except (Contact.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


@login_required
def queue(request: StaffRequest) -> HttpResponse:
    """Submissions waiting to be checked, oldest first, in the units where she takes intake."""
    _require_intake(request)
    contacts = services.pending_submissions_for(request.user).select_related("submission", "submission__category", "submission__region", "unit")
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "petitioners/queue.html", {"page": page})


def _detail(request: StaffRequest, contact: Contact, forms: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    forms = forms or {}
    details: Submission = contact.submission
    context = {
        "contact": contact,
        "details": details,
        "phone": identity.format_phone(contact.caller_phone) if contact.caller_phone else "",
        "files": SubmissionFile.objects.filter(contact=contact).order_by("pk"),
        "pending": contact.review_state == ReviewState.PENDING,
        "confirm_form": forms.get("confirm") or ConfirmSubmissionForm(user=request.user, contact=contact),
        "attach_form": forms.get("attach") or AttachSubmissionForm(user=request.user),
        "reject_form": forms.get("reject") or RejectSubmissionForm(),
    }
    return render(request, "petitioners/submission_detail.html", context, status=status)


@login_required
def detail(request: StaffRequest, pk: int) -> HttpResponse:
    """One submission (a sensitive read, audited) with the confirm, attach and reject forms."""
    _require_intake(request)
    contact = access_submission(request.user, pk)
    record_read(actor=request.user, obj=contact, unit=contact.unit, fields=("content", "caller_phone", "name", "address"))
    return _detail(request, contact)


def _case_url(case_pk: int) -> str:
    return reverse("case_detail", args=[case_pk])


@login_required
@require_POST
def confirm(request: StaffRequest, pk: int) -> HttpResponse:
    """Confirm into a new case (registered through ``cases.services.register_case``)."""
    _require_intake(request)
    contact = access_submission(request.user, pk)
    form = ConfirmSubmissionForm(request.POST, user=request.user, contact=contact)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result, _ran = run_once(
                user_id=request.user.pk,
                scope=f"page:confirm_submission:{contact.pk}",
                key=data["idempotency_key"],
                create=lambda: str(
                    services.confirm_submission(
                        contact=contact,
                        by=request.user,
                        unit=data["unit"],
                        request_type=data["request_type"],
                        category=data["category"],
                        region=data["region"],
                        summary=data["summary"],
                        address=data["address"],
                        urgency=data["urgency"],
                    ).pk
                ),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except PermissionDenied:
            form.add_error(None, _("You may not register cases for this unit or place."))
        else:
            messages.success(request, _("The submission is now a case."))
            return redirect(_case_url(int(result)))
    return _detail(request, contact, {"confirm": form}, status=422)


@login_required
@require_POST
def attach(request: StaffRequest, pk: int) -> HttpResponse:
    """Attach the submission to the case it is about."""
    _require_intake(request)
    contact = access_submission(request.user, pk)
    form = AttachSubmissionForm(request.POST, user=request.user)
    if form.is_valid():
        case = form.cleaned_data["case_number"]
        try:
            run_once(
                user_id=request.user.pk,
                scope=f"page:attach_submission:{contact.pk}",
                key=form.cleaned_data["idempotency_key"],
                create=lambda: str(services.attach_submission(contact=contact, case=case, by=request.user).pk),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The submission has been added to case %(number)s.") % {"number": case.number})
            return redirect(_case_url(case.pk))
    return _detail(request, contact, {"attach": form}, status=422)


@login_required
@require_POST
def reject(request: StaffRequest, pk: int) -> HttpResponse:
    """Do not accept the submission; she reads the reason with her code and PIN."""
    _require_intake(request)
    contact = access_submission(request.user, pk)
    form = RejectSubmissionForm(request.POST)
    if form.is_valid():
        try:
            run_once(
                user_id=request.user.pk,
                scope=f"page:reject_submission:{contact.pk}",
                key=form.cleaned_data["idempotency_key"],
                create=lambda: str(services.reject_submission(contact=contact, by=request.user, reason=form.cleaned_data["reason"]).pk),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The submission has been marked as not accepted."))
            return redirect("submission_queue")
    return _detail(request, contact, {"reject": form}, status=422)


@login_required
def file_download(request: StaffRequest, pk: int) -> FileResponse:
    """A file sent with a submission, for the staff who check it (audited)."""
    _require_intake(request)
    try:
        item = SubmissionFile.objects.select_related("contact").get(pk=pk, contact__in=services.submissions_for(request.user))
    except SubmissionFile.DoesNotExist as error:
        raise Http404 from error
    record_read(actor=request.user, obj=item, unit=item.contact.unit)
    # Submitted files are stored like case files (always encrypted), bound to their storage name.
    data = case_files.read(Attachment(storage_name=item.storage_name, encrypted=True))
    response = FileResponse(io.BytesIO(data), content_type=item.content_type, as_attachment=True, filename=item.name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
