"""API operations of the audit log, for auditors: search the entries, read one, verify the chain."""

from datetime import datetime
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.audit.selectors import AuditFilter, search_entries
from rightscare.audit.verification import ChainState, ProblemKind, entry_chain_status, verify_chain
from rightscare.audit.views import require_auditor
from rightscare.core.pagination import Pagination

router = Router(tags=["audit"])

#: A database id: bigger numbers cannot exist and would overflow the database's integer.
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor_id: int | None
    actor_label: str
    unit_id: int | None
    unit_label: str
    action: AuditAction
    event: str
    object_type: str
    object_id: str
    object_label: str
    changes: dict[str, Any] = Field(..., description='{field: [old, new]}; a protected field only as "changed".')
    reason: str
    ip_address: str
    chain_no: int | None = Field(..., description="The entry's place in the sealed chain; null until the next seal.")
    entry_hash: str
    sealed_at: datetime | None


class ChainStatusOut(Schema):
    state: ChainState = Field(..., description="unsealed, intact, edited (changed after sealing) or unlinked (an earlier entry changed or removed)")
    chain_no: int | None
    previous_hash: str
    entry_hash: str


class AuditEntryDetailOut(AuditEntryOut):
    chain: ChainStatusOut


class AuditFilterIn(Schema):
    user: str = Field("", max_length=150, description="A user id, or part of the user's recorded name")
    unit: str = Field("", max_length=200, description="A unit id, or part of its recorded name")
    object_type: str = Field("", max_length=64, description="e.g. org.user")
    object_id: str = Field("", max_length=64)
    action: AuditAction | None = None
    at_from: datetime | None = Field(None, description="Inclusive; without a time zone, in the installation's")
    at_to: datetime | None = Field(None, description="Inclusive; a time without seconds includes its whole minute")


class ProblemOut(Schema):
    kind: ProblemKind
    chain_no: int | None
    message: str


class VerificationOut(Schema):
    ok: bool
    sealed: int = Field(..., description="Sealed entries checked")
    head_chain_no: int
    head_hash: str
    anchors: int = Field(..., description="Anchors whose HMAC verified")
    last_anchor_chain_no: int
    unsealed: int = Field(..., description="Entries written since the last seal, covered from the next seal on")
    first_problem: ProblemOut | None = Field(..., description="The first broken link")
    problems: list[ProblemOut]
    warnings: list[str]


@router.get("/audit/entries", response=list[AuditEntryOut], summary="Search the audit log (auditors)")
@paginate(Pagination)
def list_entries(request: HttpRequest, filters: Query[AuditFilterIn]) -> QuerySet[AuditEntry]:
    require_auditor(request)
    return search_entries(
        AuditFilter(
            user=filters.user,
            unit=filters.unit,
            object_type=filters.object_type,
            object_id=filters.object_id,
            action=filters.action or "",
            at_from=filters.at_from,
            at_to=filters.at_to,
        )
    )


@router.get("/audit/entries/{entry_id}", response=AuditEntryDetailOut, summary="One audit entry and its place in the chain (auditors)")
def get_entry(request: HttpRequest, entry_id: RecordId) -> dict[str, Any]:
    require_auditor(request)
    entry = get_object_or_404(AuditEntry, pk=entry_id)
    status = entry_chain_status(entry)
    data = {name: getattr(entry, name) for name in AuditEntryOut.model_fields}
    data["chain"] = {"state": status.state, "chain_no": status.chain_no, "previous_hash": entry.previous_hash, "entry_hash": entry.entry_hash}
    return data


@router.get("/audit/verify", response=VerificationOut, summary="Verify the audit chain against its anchors (auditors)")
def verify(request: HttpRequest) -> dict[str, Any]:
    require_auditor(request)
    result = verify_chain()
    problems = [{"kind": p.kind, "chain_no": p.chain_no, "message": p.message} for p in result.problems]
    first = result.first_problem
    return {
        "ok": result.ok,
        "sealed": result.sealed,
        "head_chain_no": result.head_chain_no,
        "head_hash": result.head_hash,
        "anchors": result.anchors,
        "last_anchor_chain_no": result.last_anchor_chain_no,
        "unsealed": result.unsealed,
        "first_problem": {"kind": first.kind, "chain_no": first.chain_no, "message": first.message} if first else None,
        "problems": problems,
        "warnings": result.warnings,
    }
