"""The REST API at ``/api/v1/``: one NinjaAPI, one router per app, errors as problem+json."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from rightscare.core.errors import AuthorisationError, Conflict
from rightscare.core.problems import problem_response
from rightscare.org.services import authenticate_api_token


class TokenAuth(HttpBearer):
    """``Authorization: Bearer rc_…`` for programs."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_api_token(token)
        if user is None:
            return None
        request.user = user
        return user


api = NinjaAPI(
    title="RightsCare API",
    version="1",
    description="Intake, dispatch and care for women's and children's rights organisations.",
    urls_namespace="api-v1",
    auth=[TokenAuth(), SessionAuth(csrf=True)],
    docs_url="/docs",
)


def _field_name(location: tuple[Any, ...]) -> str:
    # ninja reports ("body", "payload", "name"); the client knows the field as "name".
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "payload")]
    return ".".join(parts) or ".".join(str(p) for p in location)


@api.exception_handler(NinjaValidationError)
def on_invalid_request(request: HttpRequest, error: NinjaValidationError) -> HttpResponse:
    errors = [{"field": _field_name(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in error.errors]
    return problem_response(422, detail="The request is not valid.", errors=errors)


@api.exception_handler(ValidationError)
def on_invalid_data(request: HttpRequest, error: ValidationError) -> HttpResponse:
    if hasattr(error, "error_dict"):
        errors = [{"field": name, "message": str(message)} for name, messages in error.message_dict.items() for message in messages]
    else:
        errors = [{"field": "", "message": str(message)} for message in error.messages]
    return problem_response(422, detail="The request is not valid.", errors=errors)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return problem_response(401, detail="Authentication is required.", headers={"WWW-Authenticate": 'Bearer realm="rightscare"'})


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return problem_response(404, detail="No such record.")


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    return problem_response(403, detail="You may not do this.")


@api.exception_handler(AuthorisationError)
def on_not_authorised(request: HttpRequest, error: AuthorisationError) -> HttpResponse:
    return problem_response(403, detail=str(error) or "You may not do this.")


@api.exception_handler(Conflict)
def on_conflict(request: HttpRequest, error: Conflict) -> HttpResponse:
    return problem_response(409, detail=str(error) or "The record changed; reload it and try again.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return problem_response(error.status_code, detail=str(error))


def _mount_routers() -> None:
    from rightscare.assessment.api import router as assessment_router
    from rightscare.audit.api import router as audit_router
    from rightscare.cases.api import router as cases_router
    from rightscare.intake.api import router as intake_router
    from rightscare.integrations.api import router as integrations_router
    from rightscare.notifications.api import router as notifications_router
    from rightscare.open311.keys_api import router as channel_keys_router
    from rightscare.org.api import router as org_router
    from rightscare.org.calendar_api import router as calendar_router
    from rightscare.ratings.api import router as ratings_router
    from rightscare.supervision.api import router as supervision_router
    from rightscare.supervision.board_api import router as chasing_router
    from rightscare.supervision.safety_api import router as safety_router

    api.add_router("/", org_router)
    api.add_router("/", audit_router)
    api.add_router("/", calendar_router)
    api.add_router("/", notifications_router)
    api.add_router("/", cases_router)
    api.add_router("/", intake_router)
    api.add_router("/", chasing_router)
    api.add_router("/", supervision_router)
    api.add_router("/", safety_router)
    api.add_router("/", assessment_router)
    api.add_router("/", integrations_router)
    api.add_router("/", ratings_router)
    api.add_router("/", channel_keys_router)


_mount_routers()
