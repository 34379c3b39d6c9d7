"""The auditors' pages: search the log, read one entry with its place in the chain, export CSV.

Only users with the ``read_audit_log`` capability (auditors; not system
administrators) reach them. The log itself (models, services) never imports
``org``; these pages sit on top of both and ask ``org.access`` who may read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from rightscare.audit.chain import canonical_json
from rightscare.audit.forms import AuditFilterForm
from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.audit.selectors import search_entries
from rightscare.audit.services import CHANGED, record
from rightscare.audit.signals import client_address
from rightscare.audit.verification import entry_chain_status
from rightscare.core.spreadsheets import safe_cell
from rightscare.org import access
from rightscare.org.roles import Capability

PAGE_SIZE = 50

#: Columns of the CSV export: stable names for programs that read it.
EXPORT_COLUMNS = [
    "id",
    "at",
    "actor_id",
    "actor",
    "unit_id",
    "unit",
    "action",
    "event",
    "object_type",
    "object_id",
    "object",
    "changes",
    "reason",
    "ip_address",
    "chain_no",
    "entry_hash",
]


def require_auditor(request: HttpRequest) -> None:
    """403 unless the user may read the audit log."""
    if not access.has_capability(request.user, Capability.READ_AUDIT_LOG):
        raise PermissionDenied


@login_required
def entry_list(request: HttpRequest) -> HttpResponse:
    """Search the audit log; the htmx search answers with the ``results`` partial only."""
    require_auditor(request)
    form = AuditFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    page = Paginator(search_entries(form.criteria()), PAGE_SIZE).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    template = "audit/entry_list.html#results" if getattr(request, "htmx", False) else "audit/entry_list.html"
    return render(request, template, {"form": form, "page": page, "query": filters.urlencode()})


def _change_rows(changes: dict[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    """(field, old, new, secret) for the detail page; a secret field shows only that it changed."""
    rows = []
    for name, value in sorted(changes.items()):
        if value == CHANGED:
            rows.append((name, None, None, True))
        elif isinstance(value, list) and len(value) == 2:
            rows.append((name, _shown(value[0]), _shown(value[1]), False))
        else:
            rows.append((name, None, _shown(value), False))
    return rows


def _shown(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"id", "label"}:
        return f"{value['label']} (#{value['id']})"
    if isinstance(value, (dict, list)):
        return canonical_json(value)
    return value


@login_required
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One entry, what it changed, and whether its hash and link in the chain hold."""
    require_auditor(request)
    entry = get_object_or_404(AuditEntry, pk=pk)
    return render(
        request,
        "audit/entry_detail.html",
        {"entry": entry, "status": entry_chain_status(entry), "changes": _change_rows(entry.changes if isinstance(entry.changes, dict) else {})},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark, so that Excel opens the Chinese text as UTF-8.
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)
    for entry in entries.iterator(chunk_size=2000):
        row = [
            entry.pk,
            timezone.localtime(entry.at).isoformat(),
            entry.actor_id if entry.actor_id is not None else "",
            entry.actor_label,
            entry.unit_id if entry.unit_id is not None else "",
            entry.unit_label,
            entry.action,
            entry.event,
            entry.object_type,
            entry.object_id,
            entry.object_label,
            canonical_json(entry.changes) if entry.changes else "",
            entry.reason,
            entry.ip_address,
            entry.chain_no if entry.chain_no is not None else "",
            entry.entry_hash,
        ]
        yield writer.writerow([safe_cell(cell) for cell in row])


@login_required
def entry_export(request: HttpRequest) -> StreamingHttpResponse:
    """The entries matching the search, as CSV; the export itself is recorded in the log first."""
    require_auditor(request)
    form = AuditFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    criteria = form.criteria()
    entries = search_entries(criteria)
    with transaction.atomic():
        exported = record(
            actor=request.user,
            action=AuditAction.EXPORT,
            event="audit.export",
            object_type=AuditEntry._meta.label_lower,
            unit=access.acting_unit(request.user, capability=Capability.READ_AUDIT_LOG),
            changes={"filters": criteria.describe(), "rows": entries.count()},
            ip_address=client_address(request),
        )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(_csv_lines(entries.exclude(pk=exported.pk)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
