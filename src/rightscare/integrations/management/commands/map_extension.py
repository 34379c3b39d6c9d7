"""``rightscare map_extension 8001 zhang.li``: route a telephone extension's calls to an operator."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.integrations import services
from rightscare.integrations.models import OperatorExtension
from rightscare.org.models import User


class Command(BaseCommand):
    help = "Route the calls of a telephone extension to an operator (her intake screen pops them up); --remove to stop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("extension", help="The extension as the telephone system names it.")
        parser.add_argument("username", nargs="?", help="The operator's user name.")
        parser.add_argument("--remove", action="store_true", help="Stop routing the extension to anyone.")

    def handle(self, *args: Any, **options: Any) -> None:
        extension = options["extension"]
        if options["remove"]:
            mapping = OperatorExtension.objects.filter(extension=extension).first()
            if mapping is None:
                raise CommandError(f"No operator answers at extension {extension}.")
            services.unmap_extension(by=None, mapping=mapping)
            self.stdout.write(f"Extension {extension} removed.")
            return
        if not options["username"]:
            raise CommandError("Name the operator (user name), or use --remove.")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        try:
            services.map_extension(by=None, extension=extension, user=user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"Extension {extension} → {user.username}.")
