"""``rightscare demo``: load the demo organisation into an empty database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.org import demo


class Command(BaseCommand):
    help = "Load the demo regions, units and accounts (only into a database without units) and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Succeed quietly when data is already there, printing the saved demo logins if any (used by `rightscare up`).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if demo.load_demo(stdout=self.stdout):
            return
        saved = demo.saved_logins()
        if options["if_empty"]:
            if saved is not None:
                self.stdout.write(saved)
            else:
                self.stdout.write("The demo data is already loaded.")
            return
        hint = f" The demo logins are in {demo.logins_file()}." if saved is not None else ""
        raise CommandError(f"This database already has units, so the demo data was not loaded: it is only loaded into an empty database.{hint}")
