"""The floor operations of the intake benchmark, mounted at ``/api/bench-floors/`` (see the package docstring)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.responses import Status

from rightscare.api import TokenAuth
from rightscare.benchfloors.models import FloorRecord
from rightscare.intake.api import CallIn

api = NinjaAPI(
    title="RightsCare benchmark floors",
    version="bench",
    urls_namespace="bench-floors",
    auth=[TokenAuth()],
    docs_url=None,
    openapi_url=None,
)

#: The rows one floor request writes, standing for what a call writes first: the caller, the case, the contact, its event.
KINDS = ("person", "case", "contact", "event")


class PingOut(Schema):
    ok: bool
    user_id: int


class FloorOut(Schema):
    id: int


@api.get("/ping", response=PingOut)
def ping(request: HttpRequest) -> dict[str, Any]:
    """The framework floor: token authentication and a JSON answer, nothing else."""
    return {"ok": True, "user_id": request.user.pk}


@api.post("/calls", response={201: FloorOut})
def floor_call(request: HttpRequest, payload: CallIn) -> Status[Any]:
    """The framework-and-database floor: the body of ``POST /api/v1/calls`` validated by the same schema, four rows inserted in one transaction."""
    with transaction.atomic():
        rows = [
            FloorRecord.objects.create(kind=kind, user_id=request.user.pk, unit_id=payload.unit_id, region_id=payload.region_id, text=payload.content)
            for kind in KINDS
        ]
    return Status(201, {"id": rows[1].pk})
