"""Records the cross-cutting suites (fuzzing, translations) need from the integrations."""

from __future__ import annotations

from typing import Any

from django.utils import timezone


def integration_records(personas: dict[str, Any]) -> dict[str, int]:
    """A webhook subscription, a failed delivery of it, and an extension mapped to the operator; their ids."""
    from rightscare.integrations import services
    from rightscare.integrations.models import Delivery

    subscription = services.save_subscription(
        by=personas["system_admin"], subscription=None, name="统计平台", url="https://hooks.example.org/stats", events=["case.created"]
    )
    delivery = Delivery.objects.create(
        idempotency_key=f"webhook:{subscription.pk}:fixture",
        kind="webhook",
        event="case.created",
        subscription=subscription,
        payload={"event": "case.created"},
        status="failed",
        attempts=10,
        last_error="HTTP 503",
        next_attempt_at=timezone.now(),
    )
    extension = services.map_extension(by=personas["system_admin"], extension="8009", user=personas["operator"])
    return {"webhook_id": subscription.pk, "delivery_id": delivery.pk, "extension_id": extension.pk}
