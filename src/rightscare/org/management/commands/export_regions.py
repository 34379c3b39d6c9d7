"""``rightscare export-regions [FILE]``: write the regions as CSV in the import format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.org import services
from rightscare.org.management.commands.import_regions import acting_system_admin


class Command(BaseCommand):
    help = "Write the regions as UTF-8 CSV (code,name,level,parent_code,name_en,code_scheme) to FILE or standard output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="where to write (default: standard output)")
        parser.add_argument("--as", dest="acting", metavar="USERNAME", help="export what this user may see (default: the first active system administrator)")

    def handle(self, *args: Any, **options: Any) -> None:
        text = services.export_regions(by=acting_system_admin(options["acting"]))
        path: Path | None = options["file"]
        if path is None:
            self.stdout.write(text, ending="")
            return
        try:
            path.write_text(text, encoding="utf-8", newline="")
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from error
        self.stderr.write(f"Wrote {len(text.splitlines()) - 1} regions to {path}.")
