"""``rightscare generate-keys``: new values for the installation's keys, printed or written to files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.core import keyfiles

#: ``--only`` choices → variables.
KINDS = {"secret": "RIGHTSCARE_SECRET_KEY", "field": "RIGHTSCARE_FIELD_KEY", "index": "RIGHTSCARE_INDEX_KEY", "audit": "RIGHTSCARE_AUDIT_KEY"}


class Command(BaseCommand):
    help = (
        "Generate new keys: RIGHTSCARE_SECRET_KEY, RIGHTSCARE_FIELD_KEY, RIGHTSCARE_INDEX_KEY and RIGHTSCARE_AUDIT_KEY. "
        "Prints NAME=value lines, or with --write DIR creates one file per key (mode 0600, never overwritten) and prints NAME_FILE=path lines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", metavar="DIR", help="Write the keys into files in DIR instead of printing them.")
        parser.add_argument("--only", action="append", choices=sorted(KINDS), help="Only this key (repeatable), e.g. --only field for a rotation.")
        parser.add_argument("--key-id", help="The id of a new field or index key (letters and digits; random by default).")

    def handle(self, *args: Any, write: str | None = None, only: list[str] | None = None, key_id: str | None = None, **options: Any) -> None:
        variables = [KINDS[kind] for kind in only] if only else list(keyfiles.KEYS)
        if key_id is not None and not key_id.isalnum():
            raise CommandError("--key-id is letters and digits only")
        values = {}
        for variable in dict.fromkeys(variables):
            generate = keyfiles.KEYS[variable][1]
            ring_key = variable in {"RIGHTSCARE_FIELD_KEY", "RIGHTSCARE_INDEX_KEY"}
            values[variable] = keyfiles.new_ring_key(key_id) if ring_key else generate()
        if write is None:
            for variable, value in values.items():
                self.stdout.write(f"{variable}={value}")
            return
        directory = Path(write)
        directory.mkdir(parents=True, exist_ok=True)
        existing = [str(directory / keyfiles.KEYS[v][0]) for v in values if (directory / keyfiles.KEYS[v][0]).exists()]
        if existing:
            raise CommandError(f"refusing to overwrite {', '.join(existing)}: a replaced key makes what it protects unreadable")
        for variable, value in values.items():
            path = directory / keyfiles.KEYS[variable][0]
            keyfiles.write_key_file(path, value)
            self.stdout.write(f"{variable}_FILE={path.resolve()}")
