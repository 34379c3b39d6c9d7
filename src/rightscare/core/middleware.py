"""Request middleware of the core app."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from rightscare.core.problems import PROBLEM_CONTENT_TYPE, problem_response

LAST_SEEN_KEY = "rightscare_last_seen"


class IdleSessionTimeoutMiddleware:
    """Log out a session that has been idle longer than ``SESSION_IDLE_SECONDS``.

    A shared computer at a service-centre desk must not leave a case file open to
    the next person; the absolute lifetime is ``SESSION_COOKIE_AGE``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY)
            if last_seen is not None and now - float(last_seen) > settings.SESSION_IDLE_SECONDS:
                logout(request)
                request.session["rightscare_idle_logout"] = True
            else:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class ApiProblemMiddleware:
    """Turn every API error the framework answers itself (404 of an unknown path,
    405 of a wrong method, CSRF 403) into ``application/problem+json``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/") and response.status_code >= 400 and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
            headers = {"Allow": response["Allow"]} if response.has_header("Allow") else None
            if response.status_code == 401 and response.has_header("WWW-Authenticate"):
                headers = {"WWW-Authenticate": response["WWW-Authenticate"]}
            return problem_response(response.status_code, headers=headers)
        return response
