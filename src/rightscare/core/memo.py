"""Reads remembered for one unit of work: a batch of the deadline sweep, one dashboard.

A batch of the sweep looks at hundreds of work orders of a few regions; each one asked for its
region's working calendar (two queries) and for the wording of every message it queued (one
query), so a thousand due clocks re-read the same few calendars and templates a thousand times
(bench/results/2026-12-06-reads-sweep-findings.md). Inside ``one_read_each()`` the readers that
use ``remembered`` read each key once; outside it they read every time, as before. What is read
must not change during the block (calendars and message templates are edited by people, not by
the work inside it); a block is one batch, seconds long.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_memo: ContextVar[dict[Hashable, Any] | None] = ContextVar("rightscare_memo", default=None)


@contextmanager
def one_read_each() -> Iterator[None]:
    """Within the block, ``remembered(key, read)`` reads each key once (nested blocks share the outer one)."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def active() -> bool:
    """Whether a ``one_read_each`` block is open (readers may choose a shape that pays off only then)."""
    return _memo.get() is not None


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, or what it returned for ``key`` earlier in the same ``one_read_each`` block."""
    memo = _memo.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]


def peek(key: Hashable) -> Any:
    """What ``remembered`` read for ``key`` in the current block, or None (nothing read yet, or no block)."""
    memo = _memo.get()
    return None if memo is None else memo.get(key)
