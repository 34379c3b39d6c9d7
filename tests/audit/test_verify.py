"""``rightscare audit-verify``: the first broken link of an edited, deleted or rewritten chain, or a forged anchor.

The attacker here has the database (raw SQL) and even the application's code, but
not the audit key and not the anchor file.
"""

from __future__ import annotations

import base64
import io
import json
import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rightscare.audit.chain import GENESIS, hash_entry
from rightscare.audit.models import AuditEntry
from rightscare.audit.services import seal
from rightscare.audit.verification import ProblemKind, verify_chain
from tests.audit.helpers import anchors, execute, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed_chain(anchor_file) -> list[AuditEntry]:
    """Five sealed entries, anchored at 3 and at 5."""
    write(3)
    seal()
    write(2)
    seal()
    assert [a["chain_no"] for a in anchors(anchor_file)] == [3, 5]
    return list(AuditEntry.objects.order_by("chain_no"))


def run_verify(*args: str) -> tuple[str, bool]:
    out = io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


def kinds(result) -> list[tuple[ProblemKind, int | None]]:
    return [(p.kind, p.chain_no) for p in result.problems]


def rewrite_from(chain_no: int) -> None:
    """Recompute every hash from ``chain_no`` on, consistently, as an attacker with the code would."""
    previous = AuditEntry.objects.get(chain_no=chain_no - 1).entry_hash if chain_no > 1 else GENESIS
    for entry in AuditEntry.objects.filter(chain_no__gte=chain_no).order_by("chain_no"):
        assert entry.chain_no is not None
        new_hash = hash_entry(entry, chain_no=entry.chain_no, previous_hash=previous)
        execute("UPDATE {table} SET previous_hash = %s, entry_hash = %s WHERE id = %s", [previous, new_hash, entry.pk])
        previous = new_hash


def test_an_intact_chain_passes(sealed_chain, anchor_file):
    result = verify_chain()
    assert result.ok
    assert (result.sealed, result.head_chain_no, result.head_hash, result.anchors, result.last_anchor_chain_no) == (
        5,
        5,
        sealed_chain[-1].entry_hash,
        2,
        5,
    )
    assert result.warnings == []
    output, ok = run_verify()
    assert ok
    assert output.splitlines() == [
        f"sealed entries: 5 (head 5); valid anchors: 2 (last at entry 5) from {anchor_file}; unsealed entries: 0",
        "audit chain intact",
    ]


def test_an_empty_log_passes(anchor_file):
    result = verify_chain()
    assert result.ok and (result.sealed, result.anchors) == (0, 0)


def test_an_edited_row_is_the_first_broken_link(sealed_chain):
    execute("UPDATE {table} SET reason = %s WHERE chain_no = 3", ["nothing happened"])

    result = verify_chain()

    assert kinds(result) == [(ProblemKind.EDITED, 3)]
    assert result.first_problem is not None
    assert result.first_problem.message == f"entry 3 (id {sealed_chain[2].pk}) no longer matches its hash: it was changed after sealing"
    output, ok = run_verify()
    assert not ok
    assert f"FIRST BROKEN LINK at chain number 3 [edited]: entry 3 (id {sealed_chain[2].pk}) no longer matches its hash" in output


def test_an_edited_row_whose_own_hash_was_recomputed_breaks_the_next_link(sealed_chain):
    execute("UPDATE {table} SET actor_label = %s WHERE chain_no = 2", ["someone else"])
    entry = AuditEntry.objects.get(chain_no=2)
    execute("UPDATE {table} SET entry_hash = %s WHERE chain_no = 2", [hash_entry(entry, chain_no=2, previous_hash=entry.previous_hash)])

    result = verify_chain()

    assert kinds(result) == [(ProblemKind.UNLINKED, 3)]
    assert result.problems[0].message == f"entry 3 (id {sealed_chain[2].pk}) does not link to entry 2: one of them was rewritten after sealing"


def test_a_deleted_sealed_row_is_a_missing_chain_number(sealed_chain):
    execute("DELETE FROM {table} WHERE chain_no = 3")

    result = verify_chain()

    assert kinds(result) == [(ProblemKind.MISSING, 3)]
    assert result.problems[0].message == "sealed entry 3 is missing: deleted from the database"
    output, ok = run_verify()
    assert not ok and "FIRST BROKEN LINK at chain number 3 [missing]: sealed entry 3 is missing" in output


def test_several_deleted_rows_are_named_as_a_range(sealed_chain):
    execute("DELETE FROM {table} WHERE chain_no IN (2, 3)")
    result = verify_chain()
    assert kinds(result) == [(ProblemKind.MISSING, 2)]
    assert result.problems[0].message == "sealed entries 2–3 are missing: deleted from the database"


def test_the_newest_sealed_rows_deleted_are_caught_by_the_last_anchor(sealed_chain):
    execute("DELETE FROM {table} WHERE chain_no >= 4")

    result = verify_chain()

    assert kinds(result) == [(ProblemKind.TRUNCATED, 4)]
    assert "names entry 5, but the chain ends at entry 3: the newest sealed entries 4–5 were deleted" in result.problems[0].message
    output, ok = run_verify()
    assert not ok and "FIRST BROKEN LINK at chain number 4 [truncated]" in output


def test_a_consistently_rewritten_chain_is_caught_by_an_anchor(sealed_chain):
    execute("UPDATE {table} SET object_label = %s WHERE chain_no = 2", ["a different record"])
    rewrite_from(2)

    result = verify_chain()

    # Every link holds: only the anchors, signed with a key the attacker lacks, show it.
    assert kinds(result) == [(ProblemKind.REWRITTEN, 3), (ProblemKind.REWRITTEN, 5)]
    assert "the chain after entry 0 up to entry 3 was rewritten" in result.problems[0].message
    output, ok = run_verify()
    assert not ok and "FIRST BROKEN LINK at chain number 3 [rewritten]" in output


def test_a_rewrite_after_the_last_anchor_is_caught_once_the_next_seal_is_anchored(sealed_chain):
    """Entries after the last anchor are covered by the chain, and by an anchor from the next seal on."""
    write(1)
    seal()
    execute("UPDATE {table} SET reason = %s WHERE chain_no = 6", ["rewritten"])
    rewrite_from(6)
    result = verify_chain()
    assert kinds(result) == [(ProblemKind.REWRITTEN, 6)]
    assert "the chain after entry 5 up to entry 6 was rewritten" in result.problems[0].message


def test_a_forged_anchor_line_is_reported(sealed_chain, anchor_file):
    last = anchors(anchor_file)[-1]
    forged = {**last, "chain_no": 9, "hash": "f" * 64}
    with anchor_file.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(forged) + "\n")

    result = verify_chain()

    assert kinds(result) == [(ProblemKind.FORGED_ANCHOR, 9)]
    assert result.problems[0].message == "anchor line 3 (entry 9) has an HMAC that does not match: the line was forged or altered"
    output, ok = run_verify()
    assert not ok and "[forged_anchor]" in output


def test_an_altered_anchor_hash_is_reported_as_forged(sealed_chain, anchor_file):
    lines = anchor_file.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["hash"] = sealed_chain[1].entry_hash  # an attacker "moving" the anchor to match a rewritten chain
    anchor_file.write_text(json.dumps(first) + "\n" + lines[1] + "\n", encoding="utf-8")
    assert kinds(verify_chain()) == [(ProblemKind.FORGED_ANCHOR, 3)]


def test_an_unreadable_anchor_line_is_reported(sealed_chain, anchor_file):
    with anchor_file.open("a", encoding="utf-8") as handle:
        handle.write("this is not an anchor\n")
    result = verify_chain()
    assert kinds(result) == [(ProblemKind.UNREADABLE_ANCHOR, None)]
    assert result.problems[0].message == "anchor line 3: no anchor on this line: the line was altered or is not an anchor"


def test_a_lost_anchor_file_is_reported(sealed_chain, anchor_file):
    anchor_file.unlink()
    result = verify_chain()
    assert kinds(result) == [(ProblemKind.NO_ANCHORS, None)]


def test_anchors_of_a_key_no_longer_configured_are_reported(sealed_chain, settings):
    old = settings.AUDIT_KEY_SPEC
    settings.AUDIT_KEY_SPEC = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    assert [k for k, _n in kinds(verify_chain())] == [ProblemKind.UNKNOWN_KEY, ProblemKind.UNKNOWN_KEY]

    # Rotated: the new key signs, the old one still verifies what it signed.
    settings.AUDIT_KEY_SPEC = f"{settings.AUDIT_KEY_SPEC},{old}"
    write(1)
    seal()
    result = verify_chain()
    assert result.ok and result.anchors == 3


def test_anchors_collected_from_the_log_are_checked(sealed_chain, anchor_file, settings, tmp_path):
    settings.AUDIT_ANCHOR = "log:"
    result = verify_chain()
    assert result.ok and result.anchors == 0
    assert result.warnings == ["anchors are sent to the log: pass the anchor lines collected from it (--anchors FILE) to check them"]

    # As syslog writes them: a prefix before each line.
    collected = tmp_path / "from-syslog.txt"
    collected.write_text("".join(f"Nov 29 09:00:00 host rightscare[12]: {line}\n" for line in anchor_file.read_text().splitlines()), encoding="utf-8")
    execute("DELETE FROM {table} WHERE chain_no = 5")
    output, ok = run_verify("--anchors", str(collected))
    assert not ok and "FIRST BROKEN LINK at chain number 5 [truncated]" in output


def test_unsealed_entries_are_reported_as_not_covered_yet(sealed_chain):
    write(2)
    result = verify_chain()
    assert result.ok
    assert result.warnings == ["2 entries written since the last seal are not covered yet (they are from the next seal on)"]
