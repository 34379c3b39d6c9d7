"""Template tags of the page shell: what the signed-in user may do, for the navigation."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import mark_safe

from rightscare.org.access import capabilities_of

register = template.Library()


@register.simple_tag(takes_context=True)
def user_capabilities(context: template.Context) -> frozenset[str]:
    """The values of the capabilities the current user holds somewhere (``"manage_users"`` …).

    Plain strings, so a template can test ``{% if "manage_users" in caps %}``.
    """
    request = context.get("request")
    user: Any = getattr(request, "user", None) or context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    return frozenset(str(capability.value) for capability in capabilities_of(user))


@register.simple_tag(takes_context=True)
def nav_current(context: template.Context, *prefixes: str) -> str:
    """``aria-current="page"`` when the current page's URL name starts with one of ``prefixes``."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    name = getattr(match, "url_name", None) or ""
    if any(name == prefix or name.startswith(f"{prefix}_") for prefix in prefixes):
        return mark_safe(' aria-current="page"')
    return ""
