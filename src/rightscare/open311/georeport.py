"""Open311 GeoReport v2 on top of the petitioner's loop (``petitioners.services``).

Nothing here decides anything about a request: submission, tracking codes, PINs, the public
status and the public notes all come from ``petitioners.services``, so the web form, WeChat
and Open311 cannot drift apart. This module only maps Open311's fields onto them and back
(docs/api/open311.md has the table):

* a service is a current category (``service_code`` = the category code);
* ``token`` and ``service_request_id`` are both the tracking code (never a case id, so
  requests cannot be enumerated); the PIN is returned once, as the extension field ``pin``;
* a request's details need the PIN and never include the description, the address or any
  personal data; the unit responsible is named, never a person;
* the status-update feed (``updates.json``) lists the public progress notes of the requests
  a channel key submitted, and of no other.

Errors are ``Open311Error`` (status and description); ``api.py`` renders them as the
spec's list of ``{"code", "description"}``.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from rightscare.cases.models import Case, Category
from rightscare.core.errors import Conflict
from rightscare.open311.models import ChannelKey, ChannelRequest
from rightscare.org.models import Region
from rightscare.petitioners import codes, ratelimit
from rightscare.petitioners import services as petitioners
from rightscare.petitioners.models import TrackingCode

#: The most requests the status-update feed looks at (the newest submitted before ``end_date``).
MAX_FEED_REQUESTS = 200
#: The longest window of the status-update feed.
MAX_FEED_WINDOW = datetime.timedelta(days=90)
#: The longest values accepted (characters) for the free-text fields that have no other limit.
MAX_FIELD = 300


class Open311Error(Exception):
    """An Open311 error: the HTTP status and one description per problem."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(descriptions[0] if descriptions else "")
        self.status = status
        self.descriptions = list(descriptions) or [""]


def not_found() -> Open311Error:
    """The one answer for an unknown request, a wrong PIN or a malformed id (they look alike)."""
    return Open311Error(404, "No service request with this id and PIN.")


def iso(value: datetime.datetime | None) -> str | None:
    """A W3C datetime with its offset, as the spec's examples (``2026-09-30T10:00:00+08:00``)."""
    return timezone.localtime(value).isoformat(timespec="seconds") if value is not None else None


# --- rate limits ---------------------------------------------------------------------------------


def _setting_rule(name: str, default: tuple[int, int]) -> ratelimit.Rule:
    from django.conf import settings

    limit, window = getattr(settings, "PUBLIC_RATE_LIMITS", {}).get(name, default)
    return ratelimit.Rule(name=name, limit=int(limit), window=int(window))


def bad_key_per_ip() -> ratelimit.Rule:
    """Requests with an unknown or revoked ``api_key`` from one address."""
    return _setting_rule("open311_bad_key_ip", (20, 3600))


def wrong_per_key() -> ratelimit.Rule:
    """Wrong ids or PINs looked up through one channel key."""
    return _setting_rule("open311_wrong_key", (100, 3600))


# --- services ------------------------------------------------------------------------------------

YES_NO = [("true", gettext_noop("Yes")), ("false", gettext_noop("No"))]


@dataclass(frozen=True)
class Attribute:
    """One attribute of every service: how and when it is safe to contact her."""

    code: str
    datatype: str
    description: str
    datatype_description: str
    values: tuple[tuple[str, str], ...] = ()


ATTRIBUTES = (
    Attribute(
        "may_call",
        "singlevaluelist",
        gettext_noop("May we call you back on this phone?"),
        gettext_noop("true or false; default true when a phone is given."),
        tuple(YES_NO),
    ),
    Attribute(
        "may_text",
        "singlevaluelist",
        gettext_noop("May we send text messages to this phone?"),
        gettext_noop("true or false; default false (never assumed)."),
        tuple(YES_NO),
    ),
    Attribute("safe_from", "string", gettext_noop("From what time is it safe to contact you?"), gettext_noop("HH:MM, local time; give safe_until too.")),
    Attribute("safe_until", "string", gettext_noop("Until what time is it safe to contact you?"), gettext_noop("HH:MM, local time; give safe_from too.")),
)


def current_services() -> list[Category]:
    """The categories a request may be filed under, in their order (``petitioners.current_categories``)."""
    return list(petitioners.current_categories().select_related("parent").order_by("parent__sort_order", "parent__code", "sort_order", "code"))


def service_of(code: str) -> Category | None:
    """The current category with this code, or None."""
    return petitioners.current_categories().select_related("parent").filter(code=code).first()


def service_dict(category: Category, *, realtime: bool) -> dict[str, Any]:
    """A service of ``services.json``; ``realtime`` when the caller's key is trusted (cases at once)."""
    keywords = [category.code, category.name, category.name_en]
    if category.domestic_violence:
        keywords.append("domestic-violence")
    if category.child_protection:
        keywords.append("child-protection")
    return {
        "service_code": category.code,
        "service_name": category.display_name,
        "description": category.display_name if category.parent is None else f"{category.parent.display_name}: {category.display_name}",
        "metadata": True,
        "type": "realtime" if realtime else "batch",
        "keywords": ",".join(word for word in keywords if word),
        "group": category.parent.display_name if category.parent is not None else "",
    }


def service_definition(category: Category) -> dict[str, Any]:
    """The service definition: the safe-contact attributes every request may carry."""
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": False,
                "datatype_description": _(attribute.datatype_description),
                "order": order,
                "description": _(attribute.description),
                "values": [{"key": key, "name": _(name)} for key, name in attribute.values],
            }
            for order, attribute in enumerate(ATTRIBUTES, start=1)
        ],
    }


# --- submitting ----------------------------------------------------------------------------------


def read_body(request: HttpRequest) -> tuple[dict[str, str], dict[str, str]]:
    """The fields and ``attribute[…]`` values of a POST, form-encoded (as the spec says) or JSON.

    JSON may carry the attributes as ``{"attribute": {"may_call": "false"}}`` or as flat
    ``"attribute[may_call]"`` keys. Only the first value of a repeated form field counts.
    """
    fields: dict[str, str] = {}
    attributes: dict[str, str] = {}
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise Open311Error(400, _("The body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise Open311Error(400, _("The body must be a JSON object."))
        nested = data.pop("attribute", None)
        if isinstance(nested, dict):
            attributes.update({str(k): _scalar(v) for k, v in nested.items()})
        items: list[tuple[str, Any]] = list(data.items())
    else:
        items = [(key, request.POST.get(key, "")) for key in request.POST]
    for key, value in items:
        name = str(key)
        if name.startswith("attribute[") and name.endswith("]"):
            attributes[name[len("attribute[") : -1]] = _scalar(value)
        else:
            fields[name] = _scalar(value)
    return fields, attributes


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise Open311Error(400, _("Every field must be a single value."))


def _boolean(name: str, raw: str, default: bool) -> bool:
    text = raw.strip().lower()
    if not text:
        return default
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Open311Error(400, _("attribute[%(name)s] must be true or false.") % {"name": name})


def _time(name: str, raw: str) -> datetime.time | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return datetime.time.fromisoformat(text)
    except ValueError:
        raise Open311Error(400, _("attribute[%(name)s] must be a time as HH:MM.") % {"name": name}) from None


def _coordinate(name: str, raw: str, bound: float) -> float | None:
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > bound:
        raise Open311Error(400, _("%(name)s is not a valid coordinate.") % {"name": name})
    return value


def resolve_region(*, address_id: str, address_string: str) -> Region:
    """Where the request is: ``address_id`` is a region's official code; otherwise the deepest
    region whose name (Chinese or English) appears in ``address_string``. Locations by
    ``lat``/``long`` alone are not geocoded: they need one of the two."""
    regions = petitioners.submission_regions()
    if address_id.strip():
        region = regions.filter(code=address_id.strip()).first()
        if region is None:
            raise Open311Error(400, _("address_id is not the code of a place that takes requests online."))
        return region
    text = address_string.strip()
    if not text:
        raise Open311Error(400, _("Give address_id (a region code) or address_string: locations are not looked up from lat and long."))
    exact = regions.filter(Q(name=text) | Q(name_en__iexact=text)).order_by("-depth", "pk").first()
    if exact is not None:
        return exact
    lowered = text.lower()
    found = [
        (depth, pk)
        for pk, name, name_en, depth in regions.values_list("pk", "name", "name_en", "depth")
        if (name and name in text) or (name_en and name_en.lower() in lowered)
    ]
    if not found:
        raise Open311Error(400, _("address_string names no place that takes requests online: give address_id (a region code)."))
    _depth, pk = max(found, key=lambda item: (item[0], -item[1]))
    return Region.objects.get(pk=pk)


@dataclass(frozen=True)
class Submitted:
    """What ``submit`` recorded: the answer's item (one, in the spec's list)."""

    item: dict[str, Any]
    created: bool


def _validation_messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [f"{field}: {message}" for field, messages in error.message_dict.items() for message in messages]
    return [str(message) for message in error.messages]


#: Field names of ``SubmissionData`` the client knows by their Open311 names.
_OPEN311_NAMES = {"region": "address_id", "category": "service_code", "name": "first_name", "safe_until": "attribute[safe_until]"}


def submit(*, key: ChannelKey, fields: dict[str, str], attributes: dict[str, str], idempotency_key: str = "") -> Submitted:
    """Submit a request through ``key`` (``petitioners.submit_request``) and remember it for the key's feed.

    A trusted key's request becomes a case at once (answered with ``service_request_id``),
    any other waits in the intake queue (answered with ``token``); both are the tracking
    code. The same ``idempotency_key`` from the same key answers the first request again,
    with a fresh PIN (the first one may never have reached her).
    """
    service_code = fields.get("service_code", "").strip()
    if not service_code:
        raise Open311Error(400, _("service_code is required."))
    category = service_of(service_code)
    if category is None:
        raise Open311Error(400, _("service_code is not a service listed in services.json."))
    description = fields.get("description", "").strip()
    if not description:
        raise Open311Error(400, _("description is required: say what happened."))
    for name in ("address_string", "address_id", "first_name", "last_name", "phone", "media_url", "account_id", "device_id", "email"):
        if len(fields.get(name, "")) > MAX_FIELD:
            raise Open311Error(400, _("%(name)s is too long.") % {"name": name})
    latitude = _coordinate("lat", fields.get("lat", ""), 90)
    longitude = _coordinate("long", fields.get("long", ""), 180)
    region = resolve_region(address_id=fields.get("address_id", ""), address_string=fields.get("address_string", ""))
    address = fields.get("address_string", "").strip()
    if latitude is not None and longitude is not None:
        address = f"{address} ({latitude:.6f}, {longitude:.6f})".strip()
    media_url = fields.get("media_url", "").strip()
    if media_url:
        # Never fetched (the server would reach wherever a client points it): kept as text for the operator.
        description = f"{description}\n\n{_('Media (not fetched)')}: {media_url}"
    name = " ".join(part for part in (fields.get("first_name", "").strip(), fields.get("last_name", "").strip()) if part)
    phone = fields.get("phone", "").strip()
    submission = petitioners.SubmissionData(
        description=description,
        category=category,
        region=region,
        address=address[:MAX_FIELD],
        anonymous=not name,
        name=name,
        phone=phone,
        may_call=_boolean("may_call", attributes.get("may_call", ""), bool(phone)),
        may_text=_boolean("may_text", attributes.get("may_text", ""), False),
        safe_from=_time("safe_from", attributes.get("safe_from", "")),
        safe_until=_time("safe_until", attributes.get("safe_until", "")),
        language=get_language() or "",
    )
    # Scoped by key: two apps of the same channel may choose the same keys.
    scoped_key = f"k{key.pk}:{idempotency_key}"[:100] if idempotency_key else None
    try:
        result = petitioners.submit_request(channel=key.channel, submission=submission, trusted=key.trusted, idempotency_key=scoped_key)
    except petitioners.RateLimited:
        raise Open311Error(429, _("Too many requests from this phone number today: please call the hotline.")) from None
    except Conflict as error:
        raise Open311Error(409, str(error)) from None
    except ValidationError as error:
        renamed = ValidationError({_OPEN311_NAMES.get(f, f): m for f, m in error.error_dict.items()}) if hasattr(error, "error_dict") else error
        raise Open311Error(400, *_validation_messages(renamed)) from None
    ChannelRequest.objects.update_or_create(contact=result.contact, defaults={"key": key, "code": result.code})
    status = petitioners.public_status(TrackingCode.objects.filter(contact=result.contact).order_by("pk").first() or _missing())
    # What happens next ("checked within a few working days"), else the status in plain words.
    notice = status.expected_text or status.label
    item: dict[str, Any] = {"service_request_id": result.code} if result.case is not None else {"token": result.code}
    item.update(
        service_notice=notice,
        account_id=fields.get("account_id", "").strip() or None,
        pin=result.pin,
        expected_datetime=iso(result.expected_at),
    )
    return Submitted(item=item, created=result.created)


def _missing() -> TrackingCode:
    raise RuntimeError("a submission without its tracking code")


# --- tokens and requests ---------------------------------------------------------------------------


def token_status(token: str) -> dict[str, Any] | None:
    """``tokens/{token}.json``: the request's id once it is a case (the same code), else null; None when unknown."""
    tracking = petitioners.find_tracking(token)
    if tracking is None:
        return None
    code = codes.display(codes.normalise(token) or "")
    return {"token": code, "service_request_id": code if petitioners.current_case(tracking) is not None else None}


def _category(tracking: TrackingCode, case: Case | None) -> Category | None:
    if case is not None:
        return case.category
    contact = tracking.contact
    submission = getattr(contact, "submission", None) if contact is not None else None
    return submission.category if submission is not None else None


def request_details(tracking: TrackingCode, typed: str) -> dict[str, Any]:
    """``requests/{id}.json`` after the PIN: status, plain words, dates, the unit responsible; nothing personal."""
    details = petitioners.public_details(tracking)
    status = details.status
    category = _category(tracking, details.case)
    moments = [status.submitted_at, *(note.at for note in details.notes)]
    if status.finished_at is not None:
        moments.append(status.finished_at)
    return {
        "service_request_id": codes.display(codes.normalise(typed) or ""),
        "status": "closed" if status.finished else "open",
        "status_notes": status.label,
        "service_name": category.display_name if category is not None else "",
        "service_code": category.code if category is not None else "",
        "agency_responsible": details.unit_name,
        "service_notice": status.expected_text,
        "requested_datetime": iso(status.submitted_at),
        "updated_datetime": iso(max(moments)),
        "expected_datetime": iso(status.expected_at),
        "public_status": status.state,
        "notes": [{"datetime": iso(note.at), "description": note.message} for note in details.notes],
    }


# --- the status-update feed ------------------------------------------------------------------------


def feed_window(start: datetime.datetime | None, end: datetime.datetime | None) -> tuple[datetime.datetime, datetime.datetime]:
    """The window asked for: ``end`` defaults to now, ``start`` to a day before ``end``; at most 90 days."""
    end = _aware(end) if end is not None else timezone.now()
    start = _aware(start) if start is not None else end - datetime.timedelta(days=1)
    if start > end:
        raise Open311Error(400, _("start_date must be before end_date."))
    if end - start > MAX_FEED_WINDOW:
        raise Open311Error(400, _("Ask for at most 90 days at a time."))
    return start, end


#: The dates a feed window may name (a year 1 or an offset of +16:00 is a 400, never a 500).
FEED_EARLIEST = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
FEED_LATEST = datetime.datetime(2200, 1, 1, tzinfo=datetime.UTC)


def _aware(value: datetime.datetime) -> datetime.datetime:
    """The moment in UTC (a naive one read in the installation's zone); outside 1970–2200 a 400."""
    try:
        aware = timezone.make_aware(value) if timezone.is_naive(value) else value
        moment = aware.astimezone(datetime.UTC)
    except (OverflowError, ValueError) as error:
        raise Open311Error(400, _("Dates must lie between 1970 and 2200.")) from error
    if not FEED_EARLIEST <= moment < FEED_LATEST:
        raise Open311Error(400, _("Dates must lie between 1970 and 2200."))
    return moment


def status_updates(*, key: ChannelKey, start: datetime.datetime, end: datetime.datetime) -> list[dict[str, Any]]:
    """The public progress notes, written between ``start`` and ``end``, of the requests ``key`` submitted.

    One update per note (the plain-words notes the petitioner reads with her PIN, in her
    language); ``status`` is ``closed`` for the last note of a finished request, ``open``
    otherwise. ``update_id`` is stable: the same note keeps its id in every later feed.
    """
    found: list[tuple[datetime.datetime, int, int, dict[str, Any]]] = []
    requests = ChannelRequest.objects.filter(key=key, created_at__lte=end).order_by("-created_at", "-pk")[:MAX_FEED_REQUESTS]
    for channel_request in requests:
        tracking = TrackingCode.objects.select_related("contact", "case").filter(contact_id=channel_request.contact_id).order_by("pk").first()
        if tracking is None:
            continue
        notes = petitioners.public_timeline(tracking)
        finished = petitioners.public_status(tracking).finished
        for ordinal, note in enumerate(notes, start=1):
            if not start <= note.at <= end:
                continue
            found.append(
                (
                    note.at,
                    channel_request.pk,
                    ordinal,
                    {
                        "update_id": salted_hmac("rightscare.open311.update", f"{channel_request.pk}:{ordinal}").hexdigest()[:20],
                        "service_request_id": channel_request.code,
                        "status": "closed" if finished and ordinal == len(notes) else "open",
                        "updated_datetime": iso(note.at),
                        "description": note.message,
                    },
                )
            )
    # In the order the notes were written (within one request, the timeline's order).
    found.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in found]
