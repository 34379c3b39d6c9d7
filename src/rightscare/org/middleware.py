"""Two-factor enforcement for staff sessions."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device

from rightscare.org import access
from rightscare.org.roles import Role

#: Paths a half-logged-in user may still reach (to finish the second step or leave).
_OPEN_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/healthz")


class RequireTwoFactorMiddleware:
    """Ask for the one-time code of a user who has a device, and make system
    administrators set one up when ``RIGHTSCARE_REQUIRE_2FA`` is on.

    API tokens are not affected: they are issued from a verified session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        guarded = not request.path.startswith(_OPEN_PREFIXES) and not request.path.startswith("/api/")
        if guarded and user is not None and user.is_authenticated and not user.is_verified():
            if user_has_device(user, confirmed=True):
                return redirect(f"{reverse('two_factor_verify')}?{urlencode({'next': request.get_full_path()})}")
            if settings.REQUIRE_2FA and access.has_global_role(user, Role.SYSTEM_ADMIN):
                return redirect("two_factor_setup")
        return self.get_response(request)
