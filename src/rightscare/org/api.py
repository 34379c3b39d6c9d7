"""API operations of the organisation: who am I, regions, units and my API tokens."""

from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Header, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from rightscare.core import identity
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.org import access, services
from rightscare.org.divisions import RegionLevel
from rightscare.org.http import StaffRequest
from rightscare.org.models import ApiToken, Region, Unit, UnitFamily
from rightscare.org.roles import Capability, Role

router = Router(tags=["organisation"])

#: A database id: bigger numbers cannot exist and would overflow the database's integer.
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class UnitRef(Schema):
    id: int
    name: str


class MembershipOut(Schema):
    id: int
    unit: UnitRef
    role: Role
    role_label: str


class MeOut(Schema):
    id: int
    username: str
    full_name: str
    phone: str = Field(..., description='My phone number, masked ("+86 138****8000"); empty when none is on file.')
    id_number: str = Field(..., description='My ID number, masked ("4403**********123X"); empty when none is on file.')
    memberships: list[MembershipOut]
    capabilities: list[Capability]


class MeIn(Input):
    phone: str | None = Field(
        None, max_length=64, description="My phone number in any usual form (+86 138 0013 8000, 0755-2345 6789…); empty removes it, absent keeps it."
    )
    id_number: str | None = Field(None, max_length=64, description="My ID number (18 characters); empty removes it, absent keeps it.")
    confirm_warnings: bool = Field(
        False, description="Save an ID number despite a warning (a birth-place code not in use in the birth year) after checking it against the card."
    )


class RegionOut(Schema):
    id: int
    name: str
    name_en: str
    level: RegionLevel
    code: str
    code_scheme: str
    parent_id: int | None
    depth: int


class UnitOut(Schema):
    id: int
    name: str
    name_en: str
    kind: str = Field(..., alias="kind.code")
    family: UnitFamily = Field(..., alias="kind.family")
    region_id: int
    parent_id: int | None
    is_active: bool


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Input):
    name: str = Field(..., min_length=1, max_length=100)
    days: int = Field(90, ge=1, le=366)


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The token itself: shown once, never again.")


def _require(request: HttpRequest, capability: Capability) -> None:
    if not access.has_capability(request.user, capability):
        raise PermissionDenied


@router.get("/me", response=MeOut, summary="Who am I, my memberships and what I may do")
def me(request: StaffRequest) -> dict[str, Any]:
    return _me(request.user)


@router.patch("/me", response=MeOut, summary="Set my phone number or ID number")
def update_me(request: StaffRequest, payload: MeIn) -> dict[str, Any]:
    """Idempotent: sending the values already on file changes nothing and records nothing."""
    services.set_user_contact(by=request.user, user=request.user, phone=payload.phone, id_number=payload.id_number, confirm_warnings=payload.confirm_warnings)
    return _me(request.user)


def _me(user: Any) -> dict[str, Any]:
    memberships = user.memberships.active().select_related("unit").order_by("unit__path", "role")
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.full_name,
        "phone": identity.mask_phone(user.phone),
        "id_number": identity.mask_id_number(user.id_number),
        "memberships": [
            {"id": m.pk, "unit": {"id": m.unit_id, "name": m.unit.display_name}, "role": m.role, "role_label": str(m.get_role_display())} for m in memberships
        ],
        "capabilities": sorted(access.capabilities_of(user)),
    }


@router.get("/regions", response=list[RegionOut], summary="Regions in my scope")
@paginate(Pagination)
def list_regions(request: StaffRequest, q: str = "", level: RegionLevel | None = None, parent_id: RecordId | None = None) -> QuerySet[Region]:
    _require(request, Capability.VIEW_ORGANISATION)
    regions = access.visible_regions(request.user).order_by("path")
    if q:
        regions = regions.filter(Q(name__contains=q) | Q(code__startswith=q) | Q(name_en__icontains=q))
    if level:
        regions = regions.filter(level=level)
    if parent_id is not None:
        regions = regions.filter(parent_id=parent_id)
    return regions


@router.get("/regions/{region_id}", response=RegionOut, summary="One region in my scope")
def get_region(request: StaffRequest, region_id: RecordId) -> Region:
    _require(request, Capability.VIEW_ORGANISATION)
    return access.access_region(request.user, region_id)


@router.get("/units", response=list[UnitOut], summary="Units in my scope")
@paginate(Pagination)
def list_units(request: StaffRequest, q: str = "", kind: str = "", region_id: RecordId | None = None) -> QuerySet[Unit]:
    _require(request, Capability.VIEW_ORGANISATION)
    units = access.visible_units(request.user).select_related("kind").order_by("path")
    if q:
        units = units.filter(Q(name__contains=q) | Q(name_en__icontains=q))
    if kind:
        units = units.filter(kind__code=kind)
    if region_id is not None:
        units = units.filter(region_id=region_id)
    return units


@router.get("/units/{unit_id}", response=UnitOut, summary="One unit in my scope")
def get_unit(request: StaffRequest, unit_id: RecordId) -> Unit:
    _require(request, Capability.VIEW_ORGANISATION)
    return access.access_unit(request.user, unit_id)


@router.get("/tokens", response=list[TokenOut], summary="My API tokens")
def list_tokens(request: StaffRequest) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=request.user)


@router.post("/tokens", response={201: TokenCreatedOut, 200: TokenOut}, summary="Issue an API token (shown once)")
def create_token(
    request: StaffRequest,
    payload: TokenIn,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key")] = "",
) -> Status[Any]:
    created: dict[str, Any] = {}

    def create() -> str:
        token, plain = services.create_api_token(by=request.user, name=payload.name, days=payload.days)
        created.update(token=token, plain=plain)
        return str(token.pk)

    result, ran = run_once(user_id=request.user.pk, scope="api:create_token", key=idempotency_key, create=create)
    if not ran:
        # A retry: the token exists but its secret was shown only to the first response.
        return Status(200, get_object_or_404(ApiToken, pk=int(result), user=request.user))
    token = created["token"]
    token.token = created["plain"]
    return Status(201, token)


@router.post("/tokens/{token_id}/revoke", response=TokenOut, summary="Revoke one of my API tokens")
def revoke_token(request: StaffRequest, token_id: RecordId) -> ApiToken:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    return services.revoke_api_token(by=request.user, token=token)
