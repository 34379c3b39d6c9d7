"""The one table of the floor endpoint: four rows per request, as a stand-in for person, case, contact and event."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class FloorRecord(models.Model):
    """One row written by the framework-and-database floor (``POST /api/bench-floors/calls``)."""

    kind = models.CharField(max_length=16)
    user_id = models.BigIntegerField()
    unit_id = models.BigIntegerField()
    region_id = models.BigIntegerField(null=True)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    # Declared for the type checker: the app is not installed when mypy runs (the setting is off).
    objects: models.Manager[FloorRecord] = models.Manager()

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"
