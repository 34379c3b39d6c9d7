"""The audit log in the Django admin: read-only, even for superusers."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from rightscare.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Entries can be looked at, never added, changed or deleted (append-only, tamper-evident)."""

    list_display = ("at", "actor_label", "unit_label", "action", "event", "object_type", "object_id", "chain_no")
    list_filter = ("action",)
    search_fields = ("actor_label", "unit_label", "object_label", "event")
    date_hierarchy = "at"
    actions = None
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
