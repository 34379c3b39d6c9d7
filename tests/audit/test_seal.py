"""Sealing: chain numbers in the order the sealer sees committed rows, hashes, anchors outside the database."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from rightscare.audit import chain as chain_module
from rightscare.audit.keys import AuditKeyError
from rightscare.audit.models import AppendOnlyError, AuditChainHead, AuditEntry
from rightscare.audit.services import record, seal
from rightscare.audit.verification import verify_chain
from tests.audit.helpers import anchors, chain, expected_mac, write
from tests.concurrency import transaction_held_open

pytestmark = pytest.mark.django_db

GENESIS = "0" * 64


def independent_hash(entry: AuditEntry, chain_no: int, previous_hash: str) -> str:
    """The documented hash, computed here without the application's code."""
    content = {
        "id": entry.pk,
        "at": entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "unit_id": entry.unit_id,
        "unit_label": entry.unit_label,
        "action": entry.action,
        "event": entry.event,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_label": entry.object_label,
        "changes": entry.changes,
        "reason": entry.reason,
        "ip_address": entry.ip_address,
    }
    payload = {"v": 1, "content": content, "chain_no": chain_no, "previous_hash": previous_hash}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_seals_every_entry_in_order_with_linked_hashes(anchor_file, audit_key):
    written = [*write(1), record(actor=None, action="update", event="test.write", changes={"名字": ["旧", "新"], "a": {"z": 1, "b": [1, 2]}}), *write(1)]

    assert seal() == 3

    entries = list(AuditEntry.objects.order_by("chain_no"))
    assert [(e.pk, e.chain_no) for e in entries] == [(written[0].pk, 1), (written[1].pk, 2), (written[2].pk, 3)]
    previous = GENESIS
    for entry in entries:
        assert entry.previous_hash == previous
        assert entry.entry_hash == independent_hash(entry, entry.chain_no, previous)
        assert entry.sealed_at is not None
        previous = entry.entry_hash
    head = AuditChainHead.objects.get()
    assert (head.chain_no, head.entry_hash, head.anchored_chain_no) == (3, entries[-1].entry_hash, 3)
    [line] = anchors(anchor_file)
    assert set(line) == {"chain_no", "hash", "at", "key", "hmac"}
    assert (line["chain_no"], line["hash"]) == (3, entries[-1].entry_hash)
    assert line["hmac"] == expected_mac(audit_key, 3, entries[-1].entry_hash)
    assert datetime.fromisoformat(line["at"].replace("Z", "+00:00")).tzinfo is not None


def test_nothing_new_seals_nothing_and_writes_no_anchor(anchor_file):
    write(2)
    assert seal() == 2
    assert seal() == 0
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2]


def test_rows_written_since_the_last_seal_are_covered_from_the_next_seal_on(anchor_file):
    first = write(2)
    seal()
    later = write(2, event="test.later")

    before = verify_chain()
    assert before.ok
    assert (before.sealed, before.unsealed) == (2, 2)
    assert AuditEntry.objects.unsealed().count() == 2

    assert seal() == 2
    assert chain() == [(first[0].pk, 1), (first[1].pk, 2), (later[0].pk, 3), (later[1].pk, 4)]
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2, 4]
    after = verify_chain()
    assert after.ok and (after.sealed, after.unsealed, after.anchors) == (4, 0, 2)


def test_batches_commit_and_anchor_one_by_one(anchor_file):
    write(5)
    assert seal(batch_size=2) == 5
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2, 4, 5]
    assert verify_chain().ok


def test_one_call_seals_at_most_max_batches_and_the_next_call_the_rest(anchor_file):
    write(5)
    assert seal(batch_size=2, max_batches=2) == 4
    assert AuditEntry.objects.unsealed().count() == 1
    assert seal(batch_size=2, max_batches=2) == 1
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2, 4, 5]


def test_rolled_back_ids_leave_gaps_that_the_chain_does_not_have():
    before = write(1)[0]
    with transaction.atomic():
        write(2)
        transaction.set_rollback(True)
    after = write(1)[0]

    seal()

    if connection.vendor == "postgresql":
        assert after.pk > before.pk + 1  # SQLite's AUTOINCREMENT counter rolls back with the rows
    assert chain() == [(before.pk, 1), (after.pk, 2)]
    assert verify_chain().ok


def test_an_entry_committed_after_a_higher_id_gets_the_next_chain_number():
    # The higher id commits (and is sealed) first: its writer's transaction began later but was shorter.
    late = AuditEntry.objects.create(id=5000, action="other", event="test.short")
    seal()
    early = AuditEntry.objects.create(id=4000, action="other", event="test.long")
    seal()

    assert chain() == [(early.pk, 2), (late.pk, 1)]
    result = verify_chain()
    assert result.ok and result.sealed == 2


def test_public_updates_keep_being_refused_after_sealing():
    entry = write(1)[0]
    seal()
    entry.refresh_from_db()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().reason == ""


def test_a_crash_between_commit_and_anchor_is_anchored_by_the_next_seal(monkeypatch, anchor_file):
    write(2)
    real_write = chain_module.write_anchor

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("rightscare.audit.services.write_anchor", broken)
    with pytest.raises(OSError):
        seal()
    assert AuditEntry.objects.unsealed().count() == 0
    assert AuditChainHead.objects.get().anchored_chain_no == 0
    assert anchors(anchor_file) == []

    monkeypatch.setattr("rightscare.audit.services.write_anchor", real_write)
    assert seal() == 0
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2]
    assert AuditChainHead.objects.get().anchored_chain_no == 2


def test_anchors_can_go_to_the_log(settings, caplog, audit_key, anchor_file):
    settings.AUDIT_ANCHOR = "log:"
    write(1)
    with caplog.at_level(logging.INFO, logger="rightscare.audit.anchor"):
        seal()
    [logged] = [r for r in caplog.records if r.name == "rightscare.audit.anchor"]
    line = json.loads(logged.getMessage())
    entry = AuditEntry.objects.get()
    assert (line["chain_no"], line["hash"], line["hmac"]) == (1, entry.entry_hash, expected_mac(audit_key, 1, entry.entry_hash))
    assert not anchor_file.exists()


def test_refuses_to_seal_without_an_audit_key(settings, monkeypatch):
    settings.AUDIT_KEY_SPEC = ""
    settings.DEMO = False
    monkeypatch.delenv("RIGHTSCARE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("RIGHTSCARE_AUDIT_KEY_FILE", raising=False)
    write(1)
    with pytest.raises(AuditKeyError):
        seal()
    assert AuditEntry.objects.unsealed().count() == 1


def test_task_seals(anchor_file):
    from rightscare.audit.tasks import seal_audit_log

    write(2)
    assert seal_audit_log.call() == 2
    assert AuditEntry.objects.unsealed().count() == 0


def test_command_seals(anchor_file, capsys):
    from django.core.management import call_command

    write(3)
    call_command("audit_seal", "--batch-size", "2")
    assert capsys.readouterr().out == "Sealed 3 audit entries.\n"
    assert [a["chain_no"] for a in anchors(anchor_file)] == [2, 3]


# --- concurrency, on PostgreSQL (SQLite has one writer at a time) -------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_writers_do_not_wait_for_a_sealer():
    def sealer_holding_the_chain() -> None:
        AuditChainHead.objects.select_for_update().get_or_create(pk=1)

    with transaction_held_open(sealer_holding_the_chain):
        written = write(1)[0]  # would fail with a lock timeout if writers queued behind the sealer
        assert AuditEntry.objects.filter(pk=written.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_transaction_still_open_is_sealed_after_the_ones_that_committed():
    inserted, commit = threading.Event(), threading.Event()
    ids: list[int] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                ids.append(write(1, event="test.slow")[0].pk)
                inserted.set()
                commit.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(10)
    fast = write(1, event="test.fast")[0]
    assert seal() == 1  # the slow writer's row is not committed: not seen, not waited for
    commit.set()
    thread.join()
    assert seal() == 1

    [slow_id] = ids
    assert slow_id < fast.pk
    assert chain() == [(slow_id, 2), (fast.pk, 1)]
    assert verify_chain().ok
