"""The Open311 GeoReport v2 API at ``/open311/v2/`` (JSON only; docs/api/open311.md).

Its own NinjaAPI, apart from ``/api/v1/``: no staff sign-in (a staff token or session grants
nothing here), channel keys as the spec's ``api_key``, and errors in the spec's format — a
list of ``{"code": <HTTP status>, "description": <text>}`` with that HTTP status — rather
than problem+json. Its OpenAPI document is ``/open311/v2/openapi.json`` (browsable at
``/open311/v2/docs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Header, NinjaAPI, Query, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from rightscare.core.api_inputs import IdempotencyKey
from rightscare.open311 import georeport
from rightscare.open311.georeport import Open311Error
from rightscare.open311.models import ChannelKey
from rightscare.open311.services import authenticate_channel_key, within_rate_limit
from rightscare.petitioners import codes, ratelimit
from rightscare.petitioners import services as petitioners

open311_api = NinjaAPI(
    title="RightsCare Open311 GeoReport v2",
    version="v2",
    description=(
        "Open311 GeoReport v2 for mini-program and app backends (JSON only; `.json` suffixes as in the spec). "
        "Errors are a list of {code, description} with the HTTP status. Field mapping, authentication and "
        "rate limits: docs/api/open311.md."
    ),
    urls_namespace="open311-v2",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error_response(status: int, *descriptions: str, headers: dict[str, str] | None = None) -> HttpResponse:
    """The spec's error body: ``[{"code": status, "description": …}, …]`` with the HTTP status."""
    body = [{"code": status, "description": description} for description in descriptions or ("",)]
    response = JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "payload", "filters")]
    return ".".join(parts) or "request"


@open311_api.exception_handler(Open311Error)
def on_open311_error(request: HttpRequest, error: Open311Error) -> HttpResponse:
    return error_response(error.status, *error.descriptions)


@open311_api.exception_handler(NinjaValidationError)
def on_invalid_request(request: HttpRequest, error: NinjaValidationError) -> HttpResponse:
    return error_response(400, *(f"{_field_name(tuple(e.get('loc', ())))}: {e.get('msg', '')}" for e in error.errors))


@open311_api.exception_handler(Http404)
def on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return error_response(404, "Not found.")


@open311_api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    return error_response(403, "Forbidden.")


@open311_api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return error_response(error.status_code, str(error))


# --- schemas (what the OpenAPI document shows) -------------------------------------------------


class ErrorOut(Schema):
    code: int = Field(..., description="The HTTP status.")
    description: str


Errors = list[ErrorOut]


class ServiceOut(Schema):
    service_code: str = Field(..., description="The category's code.")
    service_name: str
    description: str
    metadata: bool = Field(..., description="Always true: every service takes the safe-contact attributes.")
    type: Literal["realtime", "batch"] = Field(..., description="realtime for a trusted api_key (a case at once), batch otherwise.")
    keywords: str
    group: str = Field(..., description="The parent category's name.")


class AttributeValueOut(Schema):
    key: str
    name: str


class AttributeOut(Schema):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValueOut]


class ServiceDefinitionOut(Schema):
    service_code: str
    attributes: list[AttributeOut]


class SubmittedOut(Schema):
    service_request_id: str | None = Field(None, description="The tracking code, when a trusted key made a case at once.")
    token: str | None = Field(None, description="The tracking code, while the request waits in the intake queue.")
    service_notice: str
    account_id: str | None = None
    pin: str = Field(..., description="Extension: the PIN that opens the request's details. Shown once.")
    expected_datetime: str | None = Field(None, description="Extension: by when it is checked or handled.")


class TokenOut(Schema):
    token: str
    service_request_id: str | None = Field(..., description="The same code once the request is a case; null while it waits.")


class NoteOut(Schema):
    datetime: str
    description: str


class RequestOut(Schema):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str
    service_name: str
    service_code: str
    agency_responsible: str = Field(..., description="The unit responsible (never a person).")
    service_notice: str
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    public_status: str = Field(..., description="Extension: the status in RightsCare's own words (received, sent, in_progress…).")
    notes: list[NoteOut] = Field(..., description="Extension: the public progress notes, in order.")


class UpdateOut(Schema):
    update_id: str
    service_request_id: str
    status: Literal["open", "closed"]
    updated_datetime: str
    description: str


class FeedFilter(Schema):
    api_key: str = Field("", max_length=200)
    start_date: datetime | None = None
    end_date: datetime | None = None


_SUBMIT_FIELDS: dict[str, dict[str, Any]] = {
    "api_key": {"type": "string", "description": "The channel key (required)."},
    "service_code": {"type": "string", "description": "A service_code of services.json (required)."},
    "description": {"type": "string", "description": "What happened (required, at most 5000 characters)."},
    "address_id": {"type": "string", "description": "The official code of the region (e.g. 440310001000)."},
    "address_string": {"type": "string", "description": "An address naming the community, street or district (used when address_id is absent)."},
    "lat": {"type": "string", "description": "Kept with the address; not geocoded."},
    "long": {"type": "string", "description": "Kept with the address; not geocoded."},
    "first_name": {"type": "string", "description": "Absent with last_name: anonymous."},
    "last_name": {"type": "string"},
    "phone": {"type": "string", "description": "Required unless anonymous and not to be contacted."},
    "email": {"type": "string", "description": "Not kept."},
    "device_id": {"type": "string", "description": "Not kept."},
    "account_id": {"type": "string", "description": "Not kept; echoed in the answer."},
    "media_url": {"type": "string", "description": "Never fetched; kept as text with the description."},
    "attribute[may_call]": {"type": "string", "enum": ["true", "false"]},
    "attribute[may_text]": {"type": "string", "enum": ["true", "false"]},
    "attribute[safe_from]": {"type": "string", "description": "HH:MM, local time."},
    "attribute[safe_until]": {"type": "string", "description": "HH:MM, local time."},
}
_SUBMIT_SCHEMA = {"type": "object", "properties": _SUBMIT_FIELDS, "required": ["api_key", "service_code", "description"]}

ERRORS = {400: Errors, 403: Errors, 404: Errors, 429: Errors}


# --- keys and rate limits --------------------------------------------------------------------------


def _limited() -> Open311Error:
    return Open311Error(429, _("Too many requests: wait a while and try again."))


def require_key(request: HttpRequest, api_key: str) -> ChannelKey:
    """The usable channel key sent, counted against its rate limit; 403 (missing, unknown, revoked) or 429."""
    ip = ratelimit.client_ip(request)
    if ratelimit.exceeded(georeport.bad_key_per_ip(), ip):
        raise _limited()
    key = authenticate_channel_key(api_key.strip()) if api_key.strip() else None
    if key is None:
        ratelimit.hit(georeport.bad_key_per_ip(), ip)
        raise Open311Error(403, _("api_key is missing, unknown or revoked."))
    if not within_rate_limit(key):
        raise _limited()
    return key


def _optional_key(request: HttpRequest, api_key: str) -> ChannelKey | None:
    return require_key(request, api_key) if api_key.strip() else None


def _lookup_counter(request: HttpRequest, api_key: str) -> tuple[ratelimit.Rule, str]:
    """Allow one lookup of a code; the rule and key that count its wrong attempts.

    Through a channel key, the key's own rate limit counts (its backend asks for many
    petitioners from one address); without one, the address's, as on the tracking page.
    """
    key = _optional_key(request, api_key)
    if key is not None:
        counter = (georeport.wrong_per_key(), f"key:{key.pk}")
    else:
        ip = ratelimit.client_ip(request)
        if not ratelimit.hit(ratelimit.tracking_per_ip(), ip):
            raise _limited()
        counter = (ratelimit.wrong_per_ip(), ip)
    if ratelimit.exceeded(*counter):
        raise _limited()
    return counter


# --- operations ------------------------------------------------------------------------------------


@open311_api.get("/services.json", response={200: list[ServiceOut], **ERRORS}, summary="Services: the categories a request may be filed under")
def list_services(
    request: HttpRequest, api_key: Annotated[str, Field(max_length=200)] = "", jurisdiction_id: Annotated[str, Field(max_length=200)] = ""
) -> list[dict[str, Any]]:
    """``type`` is ``realtime`` when the ``api_key`` given is trusted (a case at once), ``batch`` otherwise.
    ``jurisdiction_id`` is accepted and ignored (one jurisdiction)."""
    key = _optional_key(request, api_key)
    realtime = key is not None and key.trusted
    return [georeport.service_dict(category, realtime=realtime) for category in georeport.current_services()]


@open311_api.get("/services/{service_code}.json", response={200: ServiceDefinitionOut, **ERRORS}, summary="A service definition and its attributes")
def get_service(
    request: HttpRequest, service_code: Annotated[str, Field(max_length=100)], jurisdiction_id: Annotated[str, Field(max_length=200)] = ""
) -> dict[str, Any]:
    category = georeport.service_of(service_code)
    if category is None:
        raise Open311Error(404, _("No service with this service_code."))
    return georeport.service_definition(category)


@open311_api.post(
    "/requests.json",
    response={200: list[SubmittedOut], **ERRORS, 409: Errors},
    exclude_none=True,
    summary="Submit a request (form-encoded as the spec says, or JSON)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _SUBMIT_SCHEMA}, "application/json": {"schema": _SUBMIT_SCHEMA}},
        }
    },
)
def create_request(request: HttpRequest, idempotency_key: IdempotencyKey = "") -> list[dict[str, Any]]:
    """Answers ``[{"token", "service_notice", "pin", …}]`` for a request waiting in the intake queue, or
    ``[{"service_request_id", "service_notice", "pin", …}]`` when the key is trusted and it became a case.
    Both ids are the tracking code. The same ``Idempotency-Key`` from the same key answers the first
    request again (with a fresh PIN) and records nothing new."""
    fields, attributes = georeport.read_body(request)
    key = require_key(request, fields.get("api_key", ""))
    return [georeport.submit(key=key, fields=fields, attributes=attributes, idempotency_key=idempotency_key).item]


@open311_api.get("/tokens/{token}.json", response={200: list[TokenOut], **ERRORS}, summary="The service_request_id of a token")
def get_token(request: HttpRequest, token: Annotated[str, Field(max_length=64)], api_key: Annotated[str, Field(max_length=200)] = "") -> list[dict[str, Any]]:
    counter = _lookup_counter(request, api_key)
    found = georeport.token_status(token)
    if found is None:
        ratelimit.hit(*counter)
        raise Open311Error(404, _("No request with this token."))
    return [found]


@open311_api.get(
    "/requests/{service_request_id}.json",
    response={200: list[RequestOut], **ERRORS},
    summary="One request's status and public notes (with its PIN)",
)
def get_request(
    request: HttpRequest,
    service_request_id: Annotated[str, Field(max_length=64)],
    pin: Annotated[str, Field(max_length=32)] = "",
    api_key: Annotated[str, Field(max_length=200)] = "",
    x_tracking_pin: Annotated[str, Header(alias="X-Tracking-PIN", max_length=32)] = "",
) -> list[dict[str, Any]]:
    """The PIN comes as ``?pin=`` or the ``X-Tracking-PIN`` header. An unknown id, a malformed one and a
    wrong PIN all answer the same 404, take the same time and count as wrong attempts."""
    counter = _lookup_counter(request, api_key)
    typed = codes.normalise(service_request_id) or service_request_id[:64]
    if ratelimit.exceeded(ratelimit.wrong_per_code(), typed):
        raise _limited()
    tracking = petitioners.find_tracking(service_request_id)
    if not petitioners.check_pin(tracking, x_tracking_pin or pin):
        ratelimit.hit(*counter)
        ratelimit.hit(ratelimit.wrong_per_code(), typed)
        raise georeport.not_found()
    assert tracking is not None
    petitioners.note_use(tracking)
    return [georeport.request_details(tracking, service_request_id)]


@open311_api.get("/updates.json", response={200: list[UpdateOut], **ERRORS}, summary="Status updates of the requests this key submitted")
def list_updates(request: HttpRequest, filters: Query[FeedFilter]) -> list[dict[str, Any]]:
    """FixMyStreet-style feed: the public progress notes written between ``start_date`` (default: a day
    before ``end_date``) and ``end_date`` (default: now), at most 90 days, of the requests submitted
    through this ``api_key`` — never another channel's."""
    key = require_key(request, filters.api_key)
    start, end = georeport.feed_window(filters.start_date, filters.end_date)
    return georeport.status_updates(key=key, start=start, end=end)
