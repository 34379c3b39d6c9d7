"""Test-only stopping points for crash tests.

A test that must kill a worker at an exact point (after it claimed rows, before it
marked them done) starts the worker with ``RIGHTSCARE_TEST_BARRIER=<name>`` and
``RIGHTSCARE_TEST_BARRIER_FILE=<path>``. When the worker reaches the barrier of that
name it writes the file (so the test knows it got there) and waits to be killed.
Without those variables a barrier does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def barrier(name: str) -> None:
    """Stop here forever if a crash test asked for the barrier ``name``."""
    if os.environ.get("RIGHTSCARE_TEST_BARRIER") != name:
        return
    marker = os.environ.get("RIGHTSCARE_TEST_BARRIER_FILE")
    if marker:
        Path(marker).write_text(f"{name} {os.getpid()}\n", encoding="utf-8")
    while True:  # the test sends SIGKILL
        time.sleep(1)
