"""Template tags of the integrations: whether the hotline screen shows the call pop-up."""

from __future__ import annotations

from typing import Any

from django import template

from rightscare.integrations import services

register = template.Library()


@register.simple_tag(takes_context=True)
def has_cti_extension(context: template.Context) -> bool:
    """Whether a telephone extension is mapped to the signed-in user (one EXISTS query)."""
    request = context.get("request")
    user: Any = getattr(request, "user", None)
    return user is not None and user.is_authenticated and services.has_extension(user)


@register.simple_tag(takes_context=True)
def may_manage_integrations(context: template.Context) -> bool:
    """Whether the signed-in user sees the webhook, delivery-log and extension pages."""
    request = context.get("request")
    user: Any = getattr(request, "user", None)
    return user is not None and user.is_authenticated and services.may_manage_integrations(user)
