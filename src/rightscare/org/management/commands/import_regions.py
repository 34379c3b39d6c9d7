"""``rightscare import-regions FILE``: import regions from a UTF-8 CSV file."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from rightscare.org import services
from rightscare.org.models import Membership, User
from rightscare.org.roles import Role


def acting_system_admin(username: str | None) -> User:
    """The user a command acts as: ``username``, or the first active system administrator."""
    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"There is no active user {username}.")
        return user
    membership = (
        Membership.objects.active()
        .filter(role=Role.SYSTEM_ADMIN, user__is_active=True, unit__is_active=True)
        .select_related("user")
        .order_by("created_at", "pk")
        .first()
    )
    if membership is None:
        raise CommandError("There is no active system administrator to act as: create one with `rightscare createadmin`, or load the demo.")
    return membership.user


class Command(BaseCommand):
    help = "Import regions from a UTF-8 CSV file with the columns code,name,level,parent_code[,name_en,code_scheme]."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file (UTF-8, with or without a BOM)")
        parser.add_argument("--as", dest="acting", metavar="USERNAME", help="the system administrator to act as (default: the first active one)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        except UnicodeDecodeError as error:
            raise CommandError(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV and try again.") from error
        by = acting_system_admin(options["acting"])
        total = max(sum(1 for _ in csv.reader(io.StringIO(text))) - 1, 0)
        # The bar advances while regions are written, after every line has been checked.
        with tqdm(total=total, unit="region", file=sys.stderr, disable=None, desc="Importing") as bar:

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            try:
                report = services.import_regions(by=by, text=text, progress=progress)
            except PermissionDenied as error:
                raise CommandError(f"{by.username} may not manage regions.") from error
        if not report.ok:
            for line, message in report.errors:
                self.stderr.write(f"{path}:{line}: {message}")
            raise CommandError(f"{len(report.errors)} error(s) in {path}; nothing was imported.")
        self.stdout.write(f"Imported {path}: {report.created} created, {report.updated} updated.")
