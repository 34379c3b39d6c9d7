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


class RejectNulCharactersMiddleware:
    """Answer 400 to a query string or form carrying NUL characters.

    PostgreSQL cannot store or even compare text containing NUL; without this a
    search for ``%00`` would fail with a server error instead of a clear answer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        suspicious = "\x00" in request.path or any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values)
        if not suspicious and request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            suspicious = any("\x00" in key or "\x00" in value for key, values in request.POST.lists() for value in values)
        if suspicious:
            if request.path.startswith("/api/"):
                return problem_response(400, detail="The request contains NUL characters.")
            return HttpResponse("Bad request: NUL characters are not allowed.\n", status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
