"""One record per submission, however often it is sent.

A form carries a random key rendered with it; an API client sends an
``Idempotency-Key`` header. The key is claimed in the same transaction as the
record it creates, so a double click or a retry after a lost response finds the
claim and answers with the first result instead of creating a second record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction

from rightscare.core.models import IdempotencyRecord

T = TypeVar("T")

MAX_KEY_LENGTH = 100


def new_key() -> str:
    """A fresh key for a form about to be rendered."""
    return uuid.uuid4().hex


def run_once(*, user_id: int, scope: str, key: str, create: Callable[[], str]) -> tuple[str, bool]:
    """Run ``create`` once per (user, scope, key) and return its result and whether it ran now.

    ``create`` performs the write and returns a short result (an id or a URL) to
    replay to later submissions with the same key. When ``key`` is empty the
    submission cannot be recognised again and ``create`` simply runs.
    """
    key = key.strip()[:MAX_KEY_LENGTH]
    if not key:
        return create(), True
    existing = IdempotencyRecord.objects.filter(user_id=user_id, scope=scope, key=key).first()
    if existing is not None:
        return existing.result, False
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(user_id=user_id, scope=scope, key=key)
            result = create()
            record.result = result
            record.save(update_fields=["result"])
            return result, True
    except IntegrityError:
        # A concurrent submission with the same key committed first; answer with its result.
        existing = IdempotencyRecord.objects.filter(user_id=user_id, scope=scope, key=key).first()
        if existing is None:
            raise
        return existing.result, False
