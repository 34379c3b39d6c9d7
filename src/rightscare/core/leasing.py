"""Claiming rows for slow work with leases, so that any number of workers can sweep a table.

The pattern every sweep follows (outbox delivery, periodic jobs, later deadline sweeps):

1. :func:`claim` takes up to N due rows in a *short* transaction that only writes
   ``claimed_by`` (a claim token) and ``lease_until``, and commits;
2. the slow effect (SMTP, an SMS gateway, an HTTP call) runs outside any transaction;
3. :func:`finish` writes the outcome and clears the lease, only if the row is still
   held by the same claim.

A worker that dies between 1 and 3 leaves the row leased; once ``lease_until`` has
passed, another worker claims it again. The effect may therefore happen twice (at
least once delivery): effects must be idempotent or tolerate a duplicate, and a lease
must be longer than the slowest effect (set the gateways' time-outs below it).

On PostgreSQL the candidates are locked with ``SELECT … FOR UPDATE SKIP LOCKED``:
concurrent workers take different rows instead of queueing behind one another. SQLite
has no row locks (``skip_locked`` is unsupported there); the claim runs in an
``IMMEDIATE`` transaction, which takes the database's write lock at ``BEGIN``, so
claims simply serialise. On both, the ``UPDATE`` repeats the "free or expired"
condition, so a row is never held by two claims at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from rightscare.core.models import LeasedModel

L = TypeVar("L", bound=LeasedModel)

#: Room left in ``claimed_by`` (100 characters) for the per-claim suffix.
_OWNER_LENGTH = 80


def free_at(now: datetime) -> Q:
    """Rows nobody holds at ``now``: never claimed, released, or whose lease has lapsed."""
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


@contextmanager
def write_transaction(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """``transaction.atomic`` that takes SQLite's write lock at ``BEGIN`` (``IMMEDIATE``).

    Our settings already ask for ``IMMEDIATE`` transactions; this makes the claim
    correct under any SQLite configuration (a deferred transaction that reads and then
    writes can fail with "database is locked" when another writer got in between).
    """
    connection = connections[using]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic(using=using):
            yield
        return
    if not hasattr(connection, "transaction_mode"):
        connection.get_connection_params()  # sets transaction_mode from OPTIONS
    previous = connection.transaction_mode  # type: ignore[attr-defined]
    connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    try:
        with transaction.atomic(using=using):
            yield
    finally:
        connection.transaction_mode = previous  # type: ignore[attr-defined]


def new_claim_token(owner: str) -> str:
    """A token naming the claiming worker and this one claim (two claims never share one)."""
    return f"{owner[:_OWNER_LENGTH]}/{secrets.token_hex(6)}"


def claim(
    queryset: QuerySet[L],
    *,
    owner: str,
    lease: timedelta,
    limit: int,
    order_by: Sequence[str] = ("pk",),
    updates: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[L]:
    """Claim up to ``limit`` rows of ``queryset`` that nobody holds, for ``lease``.

    ``queryset`` says which rows are due (``status="pending", next_attempt_at__lte=now``);
    rows held by an unexpired lease are left out. ``updates`` are written together with
    the claim (``{"attempts": F("attempts") + 1}``). Returns the claimed rows as they are
    after the claim, in ``order_by`` order; each has ``claimed_by`` set to this claim's
    token, which :func:`finish` checks. Commits before returning: never call it inside a
    transaction that goes on to do the slow work.
    """
    if limit < 1:
        return []
    now = now or timezone.now()
    token = new_claim_token(owner)
    model = queryset.model
    using = queryset.db
    with write_transaction(using):
        candidates = queryset.filter(free_at(now)).order_by(*order_by)
        if connections[using].features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        # The condition again: a row taken by someone else since the SELECT is not taken twice.
        queryset.filter(free_at(now), pk__in=ids).update(claimed_by=token, lease_until=now + lease, **dict(updates or {}))
    return list(model._default_manager.using(using).filter(claimed_by=token).order_by(*order_by))


def finish(row: L, **updates: Any) -> bool:
    """Record the outcome of the work on ``row`` and release it, if this claim still holds it.

    Returns False, writing nothing, when the lease lapsed and another worker claimed
    the row in the meantime (that worker records the outcome instead).
    """
    changed = type(row)._default_manager.filter(pk=row.pk, claimed_by=row.claimed_by).exclude(claimed_by="").update(claimed_by="", lease_until=None, **updates)
    if changed:
        row.claimed_by, row.lease_until = "", None
        for name, value in updates.items():
            if not hasattr(value, "resolve_expression"):
                setattr(row, name, value)
    return bool(changed)


def still_held(row: L, *, now: datetime | None = None, margin: timedelta = timedelta(0)) -> bool:
    """Whether the lease on a claimed row lasts at least ``margin`` longer (checked on the row in hand)."""
    now = now or timezone.now()
    return row.lease_until is not None and row.lease_until - margin > now
