"""The append-only audit log (PRODUCT.md C14).

Rows hold the actor, unit and object as plain ids plus a text snapshot, with no
foreign key into ``org`` or above: the log sits below the organisation so that
role grants are audited too, and it must outlive any record it mentions.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Audit entries are never edited or deleted through the application."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit entries cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries cannot be deleted")

    def unsealed(self) -> AuditEntryQuerySet:
        """Entries written since the last seal."""
        return self.filter(chain_no__isnull=True)


class AuditAction(models.TextChoices):
    CREATE = "create", _("created")
    UPDATE = "update", _("changed")
    DELETE = "delete", _("deleted")
    READ = "read", _("read")
    GRANT = "grant", _("granted")
    REVOKE = "revoke", _("revoked")
    EXPORT = "export", _("exported")
    IMPORT = "import", _("imported")
    LOGIN = "login", _("signed in")
    LOGOUT = "logout", _("signed out")
    LOGIN_FAILED = "login_failed", _("failed to sign in")
    OTHER = "other", _("other")


class AuditEntry(models.Model):
    """One write, or one read of a sensitive record."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True, db_index=True)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    unit_id = models.BigIntegerField(_("unit id"), null=True, blank=True, db_index=True)
    unit_label = models.CharField(_("unit"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    event = models.CharField(_("event"), max_length=64, blank=True, help_text=_("The use case, e.g. org.grant_role."))
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_label = models.CharField(_("object"), max_length=300, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    ip_address = models.CharField(_("IP address"), max_length=45, blank=True)
    # Set by the sealing step, in the order it sees committed rows (see services.seal).
    chain_no = models.BigIntegerField(_("chain number"), null=True, blank=True, unique=True)
    previous_hash = models.CharField(max_length=64, blank=True)
    entry_hash = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object_at"),
            models.Index(fields=["actor_id", "at"], name="audit_actor_at"),
            models.Index(fields=["unit_id", "at"], name="audit_unit_at"),
            models.Index(fields=["id"], condition=models.Q(chain_no__isnull=True), name="audit_unsealed"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # New rows only; the sealing step writes its columns with a raw UPDATE.
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("audit entries cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries cannot be deleted")

    @property
    def is_sealed(self) -> bool:
        return self.chain_no is not None


class AuditChainHead(models.Model):
    """The end of the sealed chain: one row, locked by a sealer while it extends the chain.

    Writers never touch it, so they never wait for a sealer; only sealers take turns
    on this row. ``anchored_chain_no`` says how far the chain has been written to the
    anchor sink, so a seal that crashed between its commit and its anchor is anchored
    by the next one.
    """

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    chain_no = models.BigIntegerField(_("chain number"), default=0)
    entry_hash = models.CharField(max_length=64, blank=True)
    anchored_chain_no = models.BigIntegerField(default=0)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_single_row")]

    def __str__(self) -> str:
        return f"chain head {self.chain_no}"
