"""``rightscare rotate-field-key``: re-encrypt every protected value with the active field key."""

from __future__ import annotations

from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.core import crypto, rotation
from rightscare.core.management.progress import bar_factory


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field value not written with the active (first) key of RIGHTSCARE_FIELD_KEY, "
        "in batches; safe to interrupt and run again. See docs/operations.md, 'Keys'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=rotation.DEFAULT_BATCH_SIZE, help="Values per transaction (default %(default)s).")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            reports = rotation.rotate_field_key(batch_size=batch_size, progress=bar_factory(cast(TextIO, self.stderr._out)))
        except crypto.KeyError_ as error:
            raise CommandError(f"{error}. Put every key still in use back into RIGHTSCARE_FIELD_KEY (after the active one) and run this again.") from error
        active = crypto.field_keys().active
        for report in reports:
            self.stdout.write(f"{report.label}: {report.rewritten} re-encrypted, {report.current} already on key {active}")
        total = sum(report.rewritten for report in reports)
        self.stdout.write(self.style.SUCCESS(f"Done: {total} values re-encrypted with key {active} in {len(reports)} fields."))
