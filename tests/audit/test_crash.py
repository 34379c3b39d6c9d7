"""A sealer killed with SIGKILL after claiming rows loses nothing: the next seal picks them up, without gaps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from rightscare.audit.models import AuditEntry
from rightscare.audit.services import seal
from rightscare.audit.verification import verify_chain
from tests.audit.helpers import anchors, chain, write

pytestmark = pytest.mark.django_db(transaction=True)

BARRIER = "audit.seal.claimed"


def database_url() -> str:
    """The committed test database, for another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_sealer(settings, tmp_path: Path, marker: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "RIGHTSCARE_DATA_DIR": str(tmp_path / "data"),
        "RIGHTSCARE_AUDIT_KEY": settings.AUDIT_KEY_SPEC,
        "RIGHTSCARE_AUDIT_ANCHOR": settings.AUDIT_ANCHOR,
        "RIGHTSCARE_TEST_BARRIER": BARRIER,
        "RIGHTSCARE_TEST_BARRIER_FILE": str(marker),
    }
    return subprocess.Popen([sys.executable, "-m", "rightscare.cli", "audit-seal"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(marker: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text(encoding="utf-8").strip():
            return marker.read_text(encoding="utf-8").strip()
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"the sealer exited with {process.returncode} before the barrier: {err.decode()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail("the sealer never reached the barrier")


def test_a_sealer_killed_after_claiming_rows_loses_nothing(settings, tmp_path, anchor_file):
    write(2)
    seal()
    pending = write(3, event="test.pending")
    marker = tmp_path / "barrier"

    process = start_sealer(settings, tmp_path, marker)
    try:
        assert wait_for(marker, process) == f"{BARRIER} {process.pid}"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert process.returncode == -signal.SIGKILL

    # The killed transaction was rolled back: the claimed rows are still unsealed, none half-sealed.
    assert AuditEntry.objects.unsealed().count() == 3
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2]

    assert seal() == 3
    assert chain()[-3:] == [(pending[0].pk, 3), (pending[1].pk, 4), (pending[2].pk, 5)]
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2, 5]
    result = verify_chain()
    assert result.ok and (result.sealed, result.unsealed) == (5, 0)
