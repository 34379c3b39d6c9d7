"""Abstract base models shared by every app."""

from __future__ import annotations

import uuid

from django.db import models
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
        constraints = [models.UniqueConstraint(fields=["user_id", "scope", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
