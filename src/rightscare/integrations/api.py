"""API operations of the integrations: webhook subscriptions and the delivery log (system administrators).

The telephony system's callback is not here: it authenticates by HMAC signature, not by
token or session, so it lives at ``/channels/cti/events`` (see ``views.cti_events``).
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from rightscare.core.api_inputs import IdempotencyKey, RecordId
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.integrations import services
from rightscare.integrations.models import Delivery, DeliveryKind, DeliveryStatus, WebhookEvent, WebhookSubscription
from rightscare.org.http import StaffRequest
from rightscare.org.models import Region

router = Router(tags=["integrations"])


class WebhookOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    region_id: int | None
    active: bool
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="The signing secret: shown in this answer only (and to administrators on the subscription's page).")


class WebhookIn(Input):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=500, description="An http or https address; deliveries are POSTed there.")
    events: list[WebhookEvent] = Field(min_length=1, max_length=2)
    region_id: RecordId | None = Field(None, description="Only the cases of this region and below (omitted: every case).")
    active: bool = True
    secret: str = Field("", max_length=200, description="At least 16 characters; omitted or empty: one is generated.")


class WebhookPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=1, max_length=500)
    events: list[WebhookEvent] | None = Field(None, min_length=1, max_length=2)
    region_id: RecordId | None = None
    active: bool | None = None
    secret: str | None = Field(None, max_length=200, description="A new secret (at least 16 characters); omitted: unchanged.")


class DeliveryOut(Schema):
    id: int
    key: str = Field(description="The X-RightsCare-Delivery header sent with it.")
    kind: DeliveryKind
    event: str
    webhook_id: int | None
    case_number: str | None = None
    status: DeliveryStatus
    attempts: int
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime

    @staticmethod
    def resolve_key(delivery: Delivery) -> str:
        return str(delivery.key)

    @staticmethod
    def resolve_webhook_id(delivery: Delivery) -> int | None:
        return delivery.subscription_id

    @staticmethod
    def resolve_case_number(delivery: Delivery) -> str | None:
        return delivery.case.number if delivery.case is not None else None


class DeliveryFilter(Schema):
    kind: DeliveryKind | None = None
    status: DeliveryStatus | None = None
    webhook_id: RecordId | None = None


def _require_manager(request: StaffRequest) -> None:
    if not services.may_manage_integrations(request.user):
        raise PermissionDenied


def _region(region_id: int | None) -> Region | None:
    if region_id is None:
        return None
    region = Region.objects.filter(pk=region_id).first()
    if region is None:
        raise ValidationError({"region_id": ["No such region."]})
    return region


@router.get("/webhooks", response=list[WebhookOut], summary="Webhook subscriptions")
def list_webhooks(request: StaffRequest) -> QuerySet[WebhookSubscription]:
    _require_manager(request)
    return WebhookSubscription.objects.order_by("name", "id")


@router.post("/webhooks", response={201: WebhookCreatedOut, 200: WebhookOut}, summary="Subscribe another system to case events")
def create_webhook(request: StaffRequest, payload: WebhookIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    _require_manager(request)
    region = _region(payload.region_id)

    def create() -> str:
        subscription = services.save_subscription(
            by=request.user,
            subscription=None,
            name=payload.name,
            url=payload.url,
            events=[str(event) for event in payload.events],
            region=region,
            active=payload.active,
            secret=payload.secret,
        )
        return str(subscription.pk)

    result, ran = run_once(user_id=request.user.pk, scope="api:create_webhook", key=idempotency_key, create=create)
    subscription = WebhookSubscription.objects.get(pk=int(result))
    return Status(201 if ran else 200, subscription)


@router.get("/webhooks/{webhook_id}", response=WebhookOut, summary="One webhook subscription")
def get_webhook(request: StaffRequest, webhook_id: RecordId) -> WebhookSubscription:
    _require_manager(request)
    return get_object_or_404(WebhookSubscription, pk=webhook_id)


@router.patch("/webhooks/{webhook_id}", response=WebhookOut, summary="Change a webhook subscription (or switch it off)")
def update_webhook(request: StaffRequest, webhook_id: RecordId, payload: WebhookPatch) -> WebhookSubscription:
    _require_manager(request)
    subscription = get_object_or_404(WebhookSubscription, pk=webhook_id)
    given = payload.model_dump(exclude_unset=True)
    region = _region(given["region_id"]) if "region_id" in given else subscription.region
    return services.save_subscription(
        by=request.user,
        subscription=subscription,
        name=payload.name if payload.name is not None else subscription.name,
        url=payload.url if payload.url is not None else subscription.url,
        events=[str(event) for event in payload.events] if payload.events is not None else subscription.events,
        region=region,
        active=payload.active if payload.active is not None else subscription.active,
        secret=payload.secret or "",
    )


@router.get("/deliveries", response=list[DeliveryOut], summary="The delivery log: webhooks and 12345 report-backs, newest first")
@paginate(Pagination)
def list_deliveries(request: StaffRequest, filters: Query[DeliveryFilter]) -> QuerySet[Delivery]:
    _require_manager(request)
    deliveries = Delivery.objects.select_related("case").order_by("-created_at", "-id")
    if filters.kind is not None:
        deliveries = deliveries.filter(kind=filters.kind)
    if filters.status is not None:
        deliveries = deliveries.filter(status=filters.status)
    if filters.webhook_id is not None:
        deliveries = deliveries.filter(subscription_id=filters.webhook_id)
    return deliveries


@router.post("/deliveries/{delivery_id}/retry", response=DeliveryOut, summary="Send a failed delivery again")
def retry_delivery(request: StaffRequest, delivery_id: RecordId) -> Delivery:
    _require_manager(request)
    delivery = get_object_or_404(Delivery.objects.select_related("case"), pk=delivery_id)
    return services.retry_delivery(by=request.user, delivery=delivery)
