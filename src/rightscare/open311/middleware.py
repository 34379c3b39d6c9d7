"""Keep the Open311 error format for the errors the framework answers itself under ``/open311/v2/``
(404 of an unknown path, 405 of a wrong method, 400 of a NUL character)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PREFIX = "/open311/v2/"


class Open311ErrorMiddleware:
    """Answer every error under ``/open311/v2/`` as ``[{"code", "description"}]`` (JSON)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(PREFIX) and response.status_code >= 400 and not response.get("Content-Type", "").startswith("application/json"):
            from http import HTTPStatus

            from rightscare.open311.api import error_response

            try:
                phrase = HTTPStatus(response.status_code).phrase
            except ValueError:
                phrase = "Error"
            headers = {"Allow": response["Allow"]} if response.has_header("Allow") else None
            return error_response(response.status_code, f"{phrase}.", headers=headers)
        return response
