"""``rightscare check`` verifies the audit key, the anchor sink, and that entries get sealed."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from rightscare.audit.checks import check_anchor_sink, check_audit_key, check_sealing
from rightscare.audit.keys import key_id_of
from rightscare.audit.services import seal
from rightscare.core.checks import Finding, run_checks
from tests.audit.helpers import write

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_key(settings, monkeypatch):
    settings.AUDIT_KEY_SPEC = ""
    settings.DEMO = False
    monkeypatch.delenv("RIGHTSCARE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("RIGHTSCARE_AUDIT_KEY_FILE", raising=False)


def test_a_missing_key_is_an_error(no_key):
    assert check_audit_key() == Finding("error", "RIGHTSCARE_AUDIT_KEY (or RIGHTSCARE_AUDIT_KEY_FILE) is not set: the audit log cannot be sealed or verified")


def test_a_short_key_is_an_error(no_key, monkeypatch):
    monkeypatch.setenv("RIGHTSCARE_AUDIT_KEY", base64.urlsafe_b64encode(b"x" * 16).decode())
    assert check_audit_key() == Finding("error", "RIGHTSCARE_AUDIT_KEY: key 1 has 16 bytes; it needs at least 32")


def test_a_key_from_a_file_is_accepted_with_older_keys_for_verifying(no_key, monkeypatch, tmp_path):
    new, old = b"n" * 32, b"o" * 32
    key_file = tmp_path / "audit_key"
    key_file.write_text(f"{base64.urlsafe_b64encode(new).decode()},{base64.urlsafe_b64encode(old).decode()}\n", encoding="utf-8")
    monkeypatch.setenv("RIGHTSCARE_AUDIT_KEY_FILE", str(key_file))
    assert check_audit_key() == Finding("ok", f"audit key set, id {key_id_of(new)} (and 1 older key(s) for verifying)")


def test_the_demo_generates_its_key_once(no_key, settings, tmp_path):
    settings.DEMO = True
    settings.DATA_DIR = tmp_path
    first = check_audit_key()
    assert first.level == "ok" and first.message.endswith("(demo: generated and kept in the data directory)")
    assert (tmp_path / "demo-audit-key").stat().st_mode & 0o777 == 0o600
    assert check_audit_key() == first


def test_an_anchor_file_that_cannot_be_written_is_an_error(settings, tmp_path):
    settings.AUDIT_ANCHOR = str(tmp_path / "missing-directory" / "anchors.log")
    assert check_anchor_sink().level == "error"


def test_an_anchor_file_in_the_data_directory_is_a_warning(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.DEMO = False
    settings.AUDIT_ANCHOR = str(tmp_path / "audit-anchors.log")
    assert check_anchor_sink().level == "warning"


def test_an_anchor_file_elsewhere_or_the_log_is_fine(settings, tmp_path):
    settings.AUDIT_ANCHOR = str(tmp_path / "anchors.log")
    assert check_anchor_sink() == Finding("ok", f"audit anchors appended to {tmp_path / 'anchors.log'}")
    settings.AUDIT_ANCHOR = "log:"
    assert check_anchor_sink().level == "ok"


def test_entries_left_unsealed_for_long_are_a_warning(settings):
    settings.AUDIT_SEAL_INTERVAL_SECONDS = 60
    with time_machine.travel(timezone.now() - timedelta(minutes=11), tick=False):
        write(1)
    assert check_sealing().level == "warning"
    seal()
    assert check_sealing() == Finding("ok", "audit log sealed up to the last interval")


def test_run_checks_includes_the_audit_checks(no_key):
    messages = [f.message for f in run_checks()]
    assert "RIGHTSCARE_AUDIT_KEY (or RIGHTSCARE_AUDIT_KEY_FILE) is not set: the audit log cannot be sealed or verified" in messages


def test_cli_verbs():
    from rightscare.cli import COMMANDS

    assert (COMMANDS["audit-verify"], COMMANDS["audit-seal"]) == ("audit_verify", "audit_seal")
