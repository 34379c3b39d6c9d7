"""``rightscare rotate-index-key``: recompute every blind index with the active index key."""

from __future__ import annotations

from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.core import crypto, rotation
from rightscare.core.management.progress import bar_factory


class Command(BaseCommand):
    help = (
        "Recompute every blind index not computed with the active (first) key of RIGHTSCARE_INDEX_KEY from the "
        "encrypted value it indexes, in batches; safe to interrupt and run again. See docs/operations.md, 'Keys'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=rotation.DEFAULT_BATCH_SIZE, help="Rows per transaction (default %(default)s).")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            reports = rotation.rotate_index_key(batch_size=batch_size, progress=bar_factory(cast(TextIO, self.stderr._out), unit="rows"))
        except crypto.KeyError_ as error:
            raise CommandError(str(error)) from error
        active = crypto.index_keys().active
        for report in reports:
            line = f"{report.label}: {report.rewritten} recomputed, {report.current} already on key {active}"
            if report.failed:
                line += f", {len(report.failed)} not recomputed (their value no longer passes validation; ids: {', '.join(map(str, report.failed[:20]))})"
            self.stdout.write(line)
        failed = sum(len(report.failed) for report in reports)
        if failed:
            raise CommandError(f"{failed} indexes could not be recomputed: correct those records and run this again.")
        total = sum(report.rewritten for report in reports)
        self.stdout.write(self.style.SUCCESS(f"Done: {total} indexes recomputed with key {active} in {len(reports)} fields."))
