"""Another connection's transaction held open while a test acts (PostgreSQL: SQLite has one writer at a time)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, connections, transaction


@contextmanager
def transaction_held_open(work: Callable[[], Any], *, lock_timeout: str = "2s") -> Iterator[None]:
    """Run ``work`` in a transaction of another thread's connection and keep it open for the block.

    The block runs under ``lock_timeout``: if what it does waits for the other transaction,
    it fails with a lock timeout instead of passing late. The other transaction commits after
    the block; an error in ``work`` is raised here.
    """
    done, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                work()
                done.set()
                release.wait(10)
        except BaseException as error:  # handed to the test's thread
            failures.append(error)
            done.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert done.wait(10), "the other transaction never got going"
        if failures:
            raise failures[0]
        with connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{lock_timeout}'")
        yield
    finally:
        release.set()
        thread.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
