"""Real ``rightscare`` processes against the committed test database (crash tests, RQ).

A test using these must use ``transactional_db``: the child processes see only what
the test process committed. The children get the test database, the same field,
index and audit keys, and whatever extra environment the test gives (short leases and
intervals, a barrier, a test sender file).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

#: Variables of the test process that must not leak into a child.
_DROPPED = (
    "RIGHTSCARE_TEST_BARRIER",
    "RIGHTSCARE_TEST_BARRIER_FILE",
    "RIGHTSCARE_TEST_SENDER_FILE",
    "RIGHTSCARE_JOB_INTERVALS",
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL_FILE",
)

#: Keys the child must share with the test process: variable → the setting tests generate.
_KEYS = {"RIGHTSCARE_FIELD_KEY": "FIELD_KEY_SPEC", "RIGHTSCARE_INDEX_KEY": "INDEX_KEY_SPEC", "RIGHTSCARE_AUDIT_KEY": "AUDIT_KEY_SPEC"}


def database_url() -> str:
    """The URL of the test database this process uses (a file for SQLite)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = quote(str(params.get("USER") or ""), safe="")
    password = quote(str(params.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = params.get("HOST") or "127.0.0.1"
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{params['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: the test database, this process's keys, and ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in _DROPPED}
    env.update(
        DATABASE_URL=database_url(),
        RIGHTSCARE_TASKS_BACKEND=str(settings.TASKS_BACKEND),
        RIGHTSCARE_TESTING="0",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
    )
    for variable, setting in _KEYS.items():
        # Keys configured for this process reach the child as they are; generated test keys are passed on.
        if not os.environ.get(variable) and not os.environ.get(f"{variable}_FILE") and getattr(settings, setting, ""):
            env[variable] = str(getattr(settings, setting))
    anchor = getattr(settings, "AUDIT_ANCHOR", "")
    if anchor:
        env["RIGHTSCARE_AUDIT_ANCHOR"] = str(anchor)
    env.update(extra)
    return env


def start(args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``rightscare <args>`` with its output appended to ``log``."""
    handle = log.open("ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "rightscare.cli", *args], env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    finally:
        handle.close()


def run(args: list[str], *, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``rightscare <args>`` to the end and return what it printed."""
    return subprocess.run([sys.executable, "-m", "rightscare.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, log: Path | None = None, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with the log after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            output = log.read_text(encoding="utf-8", errors="replace")[-6000:] if log is not None and log.exists() else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n--- worker log ---\n{output}")
        time.sleep(interval)


def barrier_reached(marker: Path) -> list[str]:
    """The barrier's name and the process id it wrote, once the file has them (it is created before it is written)."""
    return marker.read_text(encoding="utf-8").split() if marker.exists() else []


def kill(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL: no clean-up, no finally blocks, exactly like the OOM killer."""
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes], *, timeout: float = 30) -> int:
    """SIGTERM and wait for a clean exit."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)


class Processes:
    """The child processes a test started; whatever still runs at the end is killed."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], *, env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = start(args, env=env, log=self.log)
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


@contextmanager
def processes(log: Path) -> Iterator[Processes]:
    """A :class:`Processes` for the block."""
    group = Processes(log)
    try:
        yield group
    finally:
        group.close()
