"""``rightscare audit-seal``: seal the audit entries written since the last seal, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.audit.keys import AuditKeyError
from rightscare.audit.services import seal


class Command(BaseCommand):
    help = "Seal the audit entries written since the last seal and anchor the chain head (the worker does this every minute)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="entries sealed per transaction (default 1000)")

    def handle(self, *args: Any, batch_size: int = 1000, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            sealed = seal(batch_size=batch_size)
        except AuditKeyError as error:
            raise CommandError(f"{error}; nothing was sealed.") from error
        self.stdout.write(f"Sealed {sealed} audit entries.")
