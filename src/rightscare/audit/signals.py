"""Sign-in, sign-out and failed sign-in, recorded in the audit log with the client's address.

Connected in :meth:`rightscare.audit.apps.AuditConfig.ready`. The address is the
one the web server sees (``REMOTE_ADDR``), as for the lockout: behind a reverse
proxy configure it to pass the client's address through.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from rightscare.audit.models import AuditAction
from rightscare.audit.services import record


def client_address(request: HttpRequest | None) -> str:
    """The client's IP address as the web server sees it (empty outside a request)."""
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", "") or "")


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A user signed in (with her password; the second factor, if any, follows)."""
    record(actor=user, action=AuditAction.LOGIN, event="auth.login", obj=user, ip_address=client_address(request))


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A user signed out (nothing to record for a visitor who was not signed in)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return
    record(actor=user, action=AuditAction.LOGOUT, event="auth.logout", obj=user, ip_address=client_address(request))


def on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Someone failed to sign in: the account she tried (never the password) and from where."""
    username = str(credentials.get("username", "") or "")[:150]
    account = get_user_model().objects.filter(username=username).only("pk").first() if username else None
    record(
        actor=None,
        action=AuditAction.LOGIN_FAILED,
        event="auth.login_failed",
        object_type=get_user_model()._meta.label_lower,
        object_id=account.pk if account is not None else "",
        object_label=username,
        ip_address=client_address(request),
    )
