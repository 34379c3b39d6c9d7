"""``rightscare audit-verify``: walk the audit chain and its anchors; exit non-zero on any break."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.audit.verification import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit chain in chain-number order against the anchors; report the first broken link "
        "(an edited, deleted or rewritten entry, or a forged anchor). Exit status 0 only when intact."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchors",
            type=Path,
            default=None,
            help="a file of anchor lines (default: RIGHTSCARE_AUDIT_ANCHOR; with the log: sink, the lines collected from the log)",
        )

    def handle(self, *args: Any, anchors: Path | None = None, **options: Any) -> None:
        result = verify_chain(anchors=anchors)
        self.stdout.write(
            f"sealed entries: {result.sealed} (head {result.head_chain_no}); valid anchors: {result.anchors} "
            f"(last at entry {result.last_anchor_chain_no}) from {result.anchor_source}; unsealed entries: {result.unsealed}"
        )
        for warning in result.warnings:
            self.stdout.write(self.style.WARNING(f"[warning] {warning}"))
        first = result.first_problem
        if first is None:
            self.stdout.write(self.style.SUCCESS("audit chain intact"))
            return
        where = f"chain number {first.chain_no}" if first.chain_no is not None else "anchors"
        self.stdout.write(self.style.ERROR(f"FIRST BROKEN LINK at {where} [{first.kind}]: {first.message}"))
        for problem in result.problems:
            if problem is not first:
                self.stdout.write(self.style.ERROR(f"[{problem.kind}] {problem.message}"))
        raise CommandError(f"the audit chain is broken ({len(result.problems)} problem(s)); see docs/operations.md, 'Audit log'")
