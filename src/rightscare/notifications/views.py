"""Pages of the notifications: my inbox; for system administrators, failed messages and message templates."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rightscare.notifications import selectors, services
from rightscare.notifications.events import EVENTS
from rightscare.notifications.forms import MessageTemplateForm
from rightscare.notifications.models import Message, MessageTemplate
from rightscare.notifications.senders.console import mask_address
from rightscare.org.http import StaffRequest

PAGE_SIZE = 50


def _require_manager(request: StaffRequest) -> None:
    if not services.may_manage_notifications(request.user):
        raise PermissionDenied


# --- my inbox -------------------------------------------------------------------------------


@login_required
def inbox(request: StaffRequest) -> HttpResponse:
    """My in-app messages, unread first."""
    page = Paginator(selectors.inbox(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page})


@login_required
@require_POST
def inbox_read(request: StaffRequest, pk: int) -> HttpResponse:
    """Mark one of my messages read."""
    message = selectors.access_inbox_message(request.user, pk)
    services.mark_read(by=request.user, message=message)
    return redirect("inbox")


@login_required
@require_POST
def inbox_read_all(request: StaffRequest) -> HttpResponse:
    """Mark all my messages read."""
    count = services.mark_all_read(by=request.user)
    if count:
        messages.success(request, _("All messages are marked read."))
    return redirect("inbox")


# --- failed messages ------------------------------------------------------------------------


@login_required
def outbox(request: StaffRequest) -> HttpResponse:
    """Messages that could not be delivered, with their last error and a retry button."""
    _require_manager(request)
    page = Paginator(selectors.failed_messages(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(message, mask_address(message.to_address) if message.to_address else "") for message in page.object_list]
    events = {code: event.label for code, event in EVENTS.items()}
    return render(request, "notifications/outbox.html", {"page": page, "rows": rows, "events": events})


@login_required
@require_POST
def outbox_retry(request: StaffRequest, pk: int) -> HttpResponse:
    """Send a failed message again."""
    _require_manager(request)
    message = get_object_or_404(Message.objects.failed(), pk=pk)
    try:
        services.retry_message(by=request.user, message=message)
        messages.success(request, _("The message will be sent again."))
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    return redirect("outbox")


# --- message templates ------------------------------------------------------------------------


@login_required
def message_template_list(request: StaffRequest) -> HttpResponse:
    """Every event with its built-in wording and the administrators' templates that replace it."""
    _require_manager(request)
    templates = list(MessageTemplate.objects.order_by("event", "channel", "language"))
    events = [(event, [t for t in templates if t.event == code]) for code, event in sorted(EVENTS.items())]
    return render(request, "notifications/template_list.html", {"events": events})


def _template_form_view(request: StaffRequest, *, template: MessageTemplate | None) -> HttpResponse:
    _require_manager(request)
    initial: dict[str, Any] = {}
    if template is not None:
        initial = {"event": template.event, "channel": template.channel, "language": template.language, "subject": template.subject, "body": template.body}
    elif request.GET.get("event") in EVENTS:
        event = EVENTS[request.GET["event"]]
        initial = {"event": event.code, "subject": str(event.subject), "body": str(event.body)}
    form = MessageTemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_template(by=request.user, template=template, **form.cleaned_data)
            messages.success(request, _("The message template has been saved."))
            return redirect("message_template_list")
        except ValidationError as error:
            for name, texts in error.message_dict.items():
                form.add_error(name if name in form.fields else None, texts)
    chosen = form["event"].value() or (template.event if template else "")
    shown_event = EVENTS.get(str(chosen))
    return render(
        request,
        "notifications/template_form.html",
        {"form": form, "template": template, "event": shown_event},
        status=422 if form.errors else 200,
    )


@login_required
def message_template_create(request: StaffRequest) -> HttpResponse:
    """A new wording for an event (prefilled with the built-in one when ``?event=`` names it)."""
    return _template_form_view(request, template=None)


@login_required
def message_template_edit(request: StaffRequest, pk: int) -> HttpResponse:
    """Change an administrator's wording."""
    _require_manager(request)
    return _template_form_view(request, template=get_object_or_404(MessageTemplate, pk=pk))


@login_required
@require_POST
def message_template_delete(request: StaffRequest, pk: int) -> HttpResponse:
    """Remove an administrator's wording: the built-in one applies again."""
    _require_manager(request)
    template = get_object_or_404(MessageTemplate, pk=pk)
    services.delete_template(by=request.user, template=template)
    messages.success(request, _("The message template has been removed; the built-in wording applies again."))
    return redirect("message_template_list")
