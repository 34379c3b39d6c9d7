"""API operations on channel keys at ``/api/v1/channel-keys`` (system administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.responses import Status

from rightscare.core.api_inputs import IdempotencyKey, RecordId
from rightscare.core.idempotency import run_once
from rightscare.core.schemas import Input
from rightscare.open311 import services
from rightscare.open311.models import DEFAULT_RATE_LIMIT, ChannelKey
from rightscare.org.http import StaffRequest

router = Router(tags=["channel keys"])

#: The channels a key may stand for (``models.KEY_CHANNELS``).
KeyChannel = Literal["mini_program", "app", "api", "wechat", "platform_12345"]


class ChannelKeyOut(Schema):
    id: int
    name: str
    channel: KeyChannel
    trusted: bool
    rate_limit: int = Field(..., description="Requests per hour.")
    prefix: str = Field(..., description="The key's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ChannelKeyCreatedOut(ChannelKeyOut):
    key: str = Field(..., description="The key itself: shown in this answer only, never again.")


class ChannelKeyIn(Input):
    name: str = Field(..., min_length=1, max_length=100)
    channel: KeyChannel
    trusted: bool = Field(False, description="Its submissions become cases at once (needs RIGHTSCARE_PUBLIC_INTAKE_USER).")
    rate_limit: int = Field(DEFAULT_RATE_LIMIT, ge=1, le=100_000, description="Requests per hour.")


def _require_manager(request: StaffRequest) -> None:
    if not services.may_manage_channel_keys(request.user):
        raise PermissionDenied


@router.get("/channel-keys", response=list[ChannelKeyOut], summary="Channel keys of the Open311 clients")
def list_channel_keys(request: StaffRequest) -> QuerySet[ChannelKey]:
    _require_manager(request)
    return ChannelKey.objects.all()


@router.post("/channel-keys", response={201: ChannelKeyCreatedOut, 200: ChannelKeyOut}, summary="Issue a channel key (shown once)")
def create_channel_key(request: StaffRequest, payload: ChannelKeyIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    _require_manager(request)
    created: dict[str, Any] = {}

    def create() -> str:
        key, plain = services.create_channel_key(
            by=request.user, name=payload.name, channel=payload.channel, trusted=payload.trusted, rate_limit=payload.rate_limit
        )
        created.update(key=key, plain=plain)
        return str(key.pk)

    result, ran = run_once(user_id=request.user.pk, scope="api:create_channel_key", key=idempotency_key, create=create)
    if not ran:
        # A retry: the key exists, but it was shown only in the first answer.
        return Status(200, get_object_or_404(ChannelKey, pk=int(result)))
    key = created["key"]
    key.key = created["plain"]
    return Status(201, key)


@router.post("/channel-keys/{key_id}/revoke", response=ChannelKeyOut, summary="Revoke a channel key at once")
def revoke_channel_key(request: StaffRequest, key_id: RecordId) -> ChannelKey:
    _require_manager(request)
    return services.revoke_channel_key(by=request.user, key=get_object_or_404(ChannelKey, pk=key_id))
