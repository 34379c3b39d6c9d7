"""Checking the audit chain and its anchors: what ``rightscare audit-verify`` reports.

The walk goes in chain-number order (never id order) and finds:

* an **edited** entry: its content no longer hashes to its stored hash;
* a **deleted** sealed entry: a chain number is missing;
* the **newest sealed entries deleted**: the last anchor names a chain number the
  database no longer reaches;
* a **rewritten** chain (every hash recomputed by someone with database access):
  an HMAC-verified anchor names a hash the entry no longer has;
* a **forged** anchor line: its HMAC does not match under the audit key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from rightscare.audit.chain import (
    GENESIS,
    LOG_SINK,
    Anchor,
    anchor_sink,
    anchors_from_lines,
    hash_entry,
    read_anchor_lines,
)
from rightscare.audit.keys import AuditKeyError, AuditKeyRing, audit_keys
from rightscare.audit.models import AuditEntry

#: Beyond this many problems the walk stops: the first ones are what an investigation needs.
MAX_PROBLEMS = 100


class ProblemKind(StrEnum):
    EDITED = "edited"
    UNLINKED = "unlinked"
    MISSING = "missing"
    TRUNCATED = "truncated"
    REWRITTEN = "rewritten"
    FORGED_ANCHOR = "forged_anchor"
    UNKNOWN_KEY = "unknown_key"
    CONFLICTING_ANCHORS = "conflicting_anchors"
    UNREADABLE_ANCHOR = "unreadable_anchor"
    NO_ANCHORS = "no_anchors"
    NO_KEY = "no_key"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the chain or the anchors, at a chain number where it has one."""

    kind: ProblemKind
    chain_no: int | None
    message: str


@dataclass
class Verification:
    """The result of a walk over the chain and the anchors."""

    anchor_source: str = ""
    sealed: int = 0
    head_chain_no: int = 0
    head_hash: str = ""
    anchors: int = 0
    anchor_lines: int = 0
    last_anchor_chain_no: int = 0
    unsealed: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """The first broken link: the problem with the lowest chain number (anchor-only problems last)."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.chain_no is None, p.chain_no or 0))


def verify_chain(*, anchors: str | Path | None = None) -> Verification:
    """Walk the sealed entries in chain order and check them against the anchors.

    ``anchors`` is a file of anchor lines (default: the configured sink when it is a
    file; with the ``log:`` sink pass the lines collected from the log). Reads
    only; safe to run while the application writes and seals.
    """
    result = Verification()
    anchored = _load_anchors(result, anchors)
    _walk(result, anchored)
    if anchored and len(result.problems) < MAX_PROBLEMS:
        last = max(anchored.values(), key=lambda a: a.chain_no)
        result.last_anchor_chain_no = last.chain_no
        if last.chain_no > result.head_chain_no:
            result.problems.append(
                Problem(
                    ProblemKind.TRUNCATED,
                    result.head_chain_no + 1,
                    f"the anchor of {last.at} (line {last.line}) names entry {last.chain_no}, but the chain ends at entry "
                    f"{result.head_chain_no}: the newest sealed entries {result.head_chain_no + 1}–{last.chain_no} were deleted",
                )
            )
        elif last.chain_no < result.head_chain_no:
            result.warnings.append(f"entries {last.chain_no + 1}–{result.head_chain_no} are sealed but not anchored yet")
    if result.sealed and not result.anchor_lines and result.anchor_source != LOG_SINK:
        result.problems.append(
            Problem(
                ProblemKind.NO_ANCHORS,
                None,
                f"{result.sealed} entries are sealed but {result.anchor_source} holds no valid anchor: "
                "the anchor file was lost, replaced or is not the right one",
            )
        )
    result.unsealed = AuditEntry.objects.unsealed().count()
    if result.unsealed:
        result.warnings.append(f"{result.unsealed} entries written since the last seal are not covered yet (they are from the next seal on)")
    return result


def _load_anchors(result: Verification, source: str | Path | None) -> dict[int, Anchor]:
    path: Path | None
    if source is not None:
        path = Path(source)
    else:
        sink = anchor_sink()
        path = None if sink == LOG_SINK else Path(sink)
    if path is None:
        result.anchor_source = LOG_SINK
        result.warnings.append("anchors are sent to the log: pass the anchor lines collected from it (--anchors FILE) to check them")
        return {}
    result.anchor_source = str(path)
    if not path.exists():
        return {}
    try:
        ring: AuditKeyRing | None = audit_keys()
    except AuditKeyError as error:
        ring = None
        result.problems.append(Problem(ProblemKind.NO_KEY, None, f"the anchors cannot be checked: {error}"))
    anchors, unreadable = anchors_from_lines(read_anchor_lines(path))
    result.anchor_lines = len(anchors) + len(unreadable)
    for bad in unreadable:
        result.problems.append(Problem(ProblemKind.UNREADABLE_ANCHOR, None, f"anchor {bad}: the line was altered or is not an anchor"))
    if ring is None:
        return {}
    anchored: dict[int, Anchor] = {}
    for anchor in anchors:
        if anchor.key_id not in ring.keys:
            result.problems.append(
                Problem(
                    ProblemKind.UNKNOWN_KEY,
                    anchor.chain_no,
                    f"anchor line {anchor.line} (entry {anchor.chain_no}) is signed with key {anchor.key_id}, which is not configured: "
                    "a key removed from RIGHTSCARE_AUDIT_KEY, or a forged line",
                )
            )
        elif not ring.verify(anchor.chain_no, anchor.entry_hash, key_id=anchor.key_id, mac=anchor.mac):
            result.problems.append(
                Problem(
                    ProblemKind.FORGED_ANCHOR,
                    anchor.chain_no,
                    f"anchor line {anchor.line} (entry {anchor.chain_no}) has an HMAC that does not match: the line was forged or altered",
                )
            )
        elif anchor.chain_no in anchored and anchored[anchor.chain_no].entry_hash != anchor.entry_hash:
            earlier = anchored[anchor.chain_no]
            result.problems.append(
                Problem(
                    ProblemKind.CONFLICTING_ANCHORS,
                    anchor.chain_no,
                    f"anchor lines {earlier.line} and {anchor.line} name different hashes for entry {anchor.chain_no}: "
                    "the chain was sealed twice from different data (a restored backup?)",
                )
            )
        else:
            anchored.setdefault(anchor.chain_no, anchor)
            result.anchors += 1
    return anchored


def _walk(result: Verification, anchored: dict[int, Anchor]) -> None:
    expected, previous_hash, last_good_anchor = 1, GENESIS, 0
    entries = AuditEntry.objects.filter(chain_no__isnull=False).order_by("chain_no")
    for entry in entries.iterator(chunk_size=2000):
        if len(result.problems) >= MAX_PROBLEMS:
            result.warnings.append(f"stopped after {MAX_PROBLEMS} problems")
            return
        chain_no = entry.chain_no
        assert chain_no is not None
        follows = chain_no == expected
        if not follows:
            span = f"entry {expected} is" if chain_no == expected + 1 else f"entries {expected}–{chain_no - 1} are"
            result.problems.append(Problem(ProblemKind.MISSING, expected, f"sealed {span} missing: deleted from the database"))
        if hash_entry(entry, chain_no=chain_no, previous_hash=entry.previous_hash) != entry.entry_hash:
            result.problems.append(
                Problem(ProblemKind.EDITED, chain_no, f"entry {chain_no} (id {entry.pk}) no longer matches its hash: it was changed after sealing")
            )
        elif follows and entry.previous_hash != previous_hash:
            result.problems.append(
                Problem(
                    ProblemKind.UNLINKED,
                    chain_no,
                    f"entry {chain_no} (id {entry.pk}) does not link to entry {chain_no - 1}: one of them was rewritten after sealing",
                )
            )
        anchor = anchored.get(chain_no)
        if anchor is not None:
            if anchor.entry_hash != entry.entry_hash:
                result.problems.append(
                    Problem(
                        ProblemKind.REWRITTEN,
                        chain_no,
                        f"entry {chain_no} does not have the hash its anchor of {anchor.at} (line {anchor.line}) names: "
                        f"the chain after entry {last_good_anchor} up to entry {chain_no} was rewritten",
                    )
                )
            else:
                last_good_anchor = chain_no
        previous_hash, expected = entry.entry_hash, chain_no + 1
        result.sealed += 1
        result.head_chain_no, result.head_hash = chain_no, entry.entry_hash


class ChainState(StrEnum):
    UNSEALED = "unsealed"
    INTACT = "intact"
    EDITED = "edited"
    UNLINKED = "unlinked"


@dataclass(frozen=True)
class ChainStatus:
    """Where one entry stands in the chain (its own hash and its link to the entry before it)."""

    state: ChainState
    chain_no: int | None


def entry_chain_status(entry: AuditEntry) -> ChainStatus:
    """Check one entry's hash and its link to the entry before it (one query for a sealed entry)."""
    if entry.chain_no is None:
        return ChainStatus(ChainState.UNSEALED, None)
    if hash_entry(entry, chain_no=entry.chain_no, previous_hash=entry.previous_hash) != entry.entry_hash:
        return ChainStatus(ChainState.EDITED, entry.chain_no)
    if entry.chain_no == 1:
        linked = entry.previous_hash == GENESIS
    else:
        previous = AuditEntry.objects.filter(chain_no=entry.chain_no - 1).values_list("entry_hash", flat=True).first()
        linked = previous is not None and previous == entry.previous_hash
    return ChainStatus(ChainState.INTACT if linked else ChainState.UNLINKED, entry.chain_no)
