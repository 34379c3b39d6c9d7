"""Abstract base models shared by every app."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """A row that knows when it was created and last changed (aware UTC instants)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, editable=False)

    class Meta:
        abstract = True


class PublicIdModel(models.Model):
    """A row with a random public identifier, safe to show outside (ids are not)."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True


class IdempotencyRecord(models.Model):
    """A claimed submission key and the result it produced (see :mod:`rightscare.core.idempotency`)."""

    # A plain id, not a foreign key: core sits below the app that defines users.
    user_id = models.BigIntegerField()
    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=100)
    result = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("submission key")
        verbose_name_plural = _("submission keys")
        constraints = [models.UniqueConstraint(fields=["user_id", "scope", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


# --- worker, scheduler and leases (see rightscare.core.leasing and .scheduler) ---------


class LeasedModel(models.Model):
    """A row that a worker claims for a while before doing slow work on it.

    ``claimed_by`` holds the claim token (the worker id and a per-claim suffix);
    ``lease_until`` is when the claim lapses, so that another worker may take the
    row over when the first one died. See :mod:`rightscare.core.leasing`.
    """

    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True, editable=False)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class PeriodicJob(LeasedModel):
    """When a periodic job runs next: one row per job, shared by every worker.

    The scheduler of any worker claims a due row, triggers the job's task and then
    moves ``next_run_at`` one interval on, so the job runs once per interval however
    many workers there are.
    """

    name = models.CharField(_("name"), max_length=64, unique=True)
    next_run_at = models.DateTimeField(_("next run at"), db_index=True)
    last_triggered_at = models.DateTimeField(_("last triggered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("periodic job")
        verbose_name_plural = _("periodic jobs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeatQuerySet(models.QuerySet["WorkerHeartbeat"]):
    def fresh(self, *, now: datetime | None = None, stale_after: timedelta) -> WorkerHeartbeatQuerySet:
        """Workers that reported within ``stale_after`` and have not stopped."""
        now = now or timezone.now()
        return self.filter(last_seen_at__gte=now - stale_after, stopped_at__isnull=True)


class WorkerHeartbeat(models.Model):
    """A running ``rightscare worker``: its scheduler writes ``last_seen_at`` every few seconds."""

    worker_id = models.CharField(_("worker id"), max_length=100, unique=True)
    hostname = models.CharField(_("host name"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started at"))
    last_seen_at = models.DateTimeField(_("last seen at"), db_index=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)

    objects = WorkerHeartbeatQuerySet.as_manager()

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return self.worker_id
