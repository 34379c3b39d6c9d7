"""Template tags of the page shell: the inbox badge and the administrators' link."""

from __future__ import annotations

from typing import Any

from django import template

from rightscare.notifications import selectors, services

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_unread_count(context: template.Context) -> int:
    """Unread inbox messages of the signed-in user (one COUNT query per request)."""
    request = context.get("request")
    if request is None:
        return 0
    return selectors.unread_count(request)


@register.simple_tag(takes_context=True)
def may_manage_notifications(context: template.Context) -> bool:
    """Whether the signed-in user sees the outbox and message template pages."""
    request = context.get("request")
    user: Any = getattr(request, "user", None) or context.get("user")
    return user is not None and services.may_manage_notifications(user)
