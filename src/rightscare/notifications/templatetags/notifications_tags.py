"""Template tags: the inbox badge and the administrators' link of the page shell, and the case page's notices to the petitioner."""

from __future__ import annotations

from typing import Any

from django import template

from rightscare.notifications import selectors, senders, services

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


@register.inclusion_tag("notifications/_petitioner_notices.html")
def petitioner_notices(case: Any) -> dict[str, Any]:
    """The case page's panel: what the petitioner was told at each stage, or why nobody was.

    Shown to whoever may open the case (the page has loaded it through her scope).
    Nothing, and no query, when no channel to petitioners is configured.
    """
    from rightscare.notifications import petitioner
    from rightscare.notifications.events import EVENTS

    if not petitioner.channels_configured():
        return {"show": False}
    rows = [
        {
            "notice": notice,
            "event": EVENTS[notice.event].label if notice.event in EVENTS else notice.event,
            "channel": senders.channel_label(notice.channel),
        }
        for notice in petitioner.petitioner_notices(case)
    ]
    return {"show": True, "rows": rows}
