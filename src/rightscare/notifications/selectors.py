"""Reads of the notification pages and API."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from rightscare.notifications.models import Message, MessageQuerySet

#: Where the unread count is kept for the rest of the request.
_UNREAD_ATTRIBUTE = "_rightscare_unread_count"


def inbox(user: Any) -> MessageQuerySet:
    """My in-app messages, unread first, newest first."""
    return Message.objects.inbox_of(user)


def access_inbox_message(user: Any, pk: int) -> Message:
    """One of my inbox messages, or 404 (someone else's is answered like a missing one)."""
    try:
        return inbox(user).get(pk=pk)
    except (Message.DoesNotExist, ValueError, TypeError, OverflowError) as error:
        raise Http404 from error


def unread_count(request: HttpRequest) -> int:
    """How many of the signed-in user's inbox messages are unread: one COUNT, once per request."""
    cached = getattr(request, _UNREAD_ATTRIBUTE, None)
    if cached is not None:
        return int(cached)
    user = getattr(request, "user", None)
    count = inbox(user).unread().count() if user is not None and user.is_authenticated else 0
    setattr(request, _UNREAD_ATTRIBUTE, count)
    return count


def forget_unread_count(request: HttpRequest) -> None:
    """Drop the cached count after the request changed it."""
    if hasattr(request, _UNREAD_ATTRIBUTE):
        delattr(request, _UNREAD_ATTRIBUTE)


def failed_messages() -> MessageQuerySet:
    """Messages that failed for good, newest first, with their recipient for the list."""
    return Message.objects.failed().select_related("to_user").order_by("-next_attempt_at", "-id")
