"""``rightscare createadmin``: create a system administrator in an existing unit."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.org import access, services
from rightscare.org.management.commands.import_regions import acting_system_admin
from rightscare.org.models import Membership, Region, Unit, UnitFamily, UnitKind, User
from rightscare.org.roles import Role


class Command(BaseCommand):
    help = "Create a user with the system administrator role in a unit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", help="login name of the new account")
        parser.add_argument("--full-name", default=None, help="the person's full name, e.g. 邓淑芬")
        parser.add_argument("--email", default="", help="e-mail address (optional)")
        parser.add_argument("--unit", type=int, help="id of the unit she belongs to (see the units page or `rightscare shell`)")
        parser.add_argument("--password-file", type=Path, help="read the password from this file instead of asking for it")
        parser.add_argument("--region-name", help="first start only: the region of the first unit, e.g. 深圳市")
        parser.add_argument("--region-level", default="city", help="first start only: its level (province, city, district…)")
        parser.add_argument("--region-code", default="", help="first start only: its official 12-digit code, if known")
        parser.add_argument("--unit-name", help="first start only: the first unit, e.g. 深圳市妇女联合会")
        parser.add_argument("--unit-kind", default="federation-city", help="first start only: code of its unit kind (created if missing)")
        parser.add_argument("--as", dest="acting", metavar="USERNAME", help="system administrator granting the role (default: the first active one)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not Unit.objects.exists():
            self._first_start(options)
            return
        interactive = sys.stdin.isatty()
        username = options["username"] or self._ask("Username: ", interactive, "--username")
        full_name = options["full_name"]
        if full_name is None:
            full_name = input("Full name: ").strip() if interactive else ""
        unit_id = options["unit"] if options["unit"] is not None else self._ask_unit(interactive)
        try:
            unit = Unit.objects.get(pk=unit_id, is_active=True)
        except Unit.DoesNotExist as error:
            raise CommandError(f"There is no active unit with id {unit_id}.") from error
        password = self._password(options["password_file"], interactive)

        if not Membership.objects.active().filter(role=Role.SYSTEM_ADMIN, user__is_active=True, unit__is_active=True).exists():
            user = self._bootstrap(username=username, full_name=full_name, email=options["email"], unit=unit, password=password)
            how = "the first system administrator"
        else:
            by = acting_system_admin(options["acting"])
            try:
                user = services.create_user(
                    by=by, username=username, full_name=full_name, password=password, unit=unit, role=Role.SYSTEM_ADMIN, email=options["email"]
                )
            except ValidationError as error:
                raise CommandError(_messages(error)) from error
            except PermissionDenied as error:
                raise CommandError(f"{by.username} may not grant the system administrator role.") from error
            how = f"a system administrator (granted by {by.username})"
        self.stdout.write(f"Created {user.username} as {how} in {unit.name}.")

    def _bootstrap(self, *, username: str, full_name: str, email: str, unit: Unit, password: str) -> User:
        """Create the very first system administrator directly: nobody exists yet who could grant the role."""
        username = username.strip()
        if not username:
            raise CommandError("A username is required.")
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(f"The username {username} is taken.")
        user = User(username=username, full_name=full_name.strip(), email=email.strip())
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(_messages(error)) from error
        with transaction.atomic():
            user.set_password(password)
            user.save()
            membership = Membership.objects.create(user=user, unit=unit, role=Role.SYSTEM_ADMIN, granted_by=None)
            fields = {"username": user.username, "full_name": user.full_name, "email": user.email, "password": user.password}
            audit.record(actor=None, action=AuditAction.CREATE, event="org.bootstrap", obj=user, unit=unit, changes=audit.diff({}, fields, secret={"password"}))
            audit.record(
                actor=None,
                action=AuditAction.GRANT,
                event="org.bootstrap",
                obj=membership,
                unit=unit,
                changes={"user": audit.plain(user), "unit": audit.plain(unit), "role": membership.role},
            )
        access.forget_grants(user)
        return user

    def _first_start(self, options: dict[str, Any]) -> None:
        """An empty installation: create the first region, unit and system administrator together."""
        if not options["region_name"] or not options["unit_name"]:
            raise CommandError(
                "There are no units yet. Give --region-name (and --region-level, --region-code) and --unit-name to create "
                "the first region and unit together with the administrator, or run `rightscare demo` for the demo organisation."
            )
        interactive = sys.stdin.isatty()
        username = options["username"] or self._ask("Username: ", interactive, "--username")
        full_name = options["full_name"] or ""
        password = self._password(options["password_file"], interactive)
        kind, _created = UnitKind.objects.get_or_create(code=options["unit_kind"], defaults={"name": options["unit_name"], "family": UnitFamily.FEDERATION})
        try:
            with transaction.atomic():
                region = Region.objects.filter(code=options["region_code"]).first() if options["region_code"] else None
                region = region or services.bootstrap_region(name=options["region_name"], level=options["region_level"], code=options["region_code"])
                user, unit = services.bootstrap_installation(
                    username=username,
                    full_name=full_name,
                    password=password,
                    region=region,
                    unit_name=options["unit_name"],
                    unit_kind=kind,
                    email=options["email"],
                )
        except ValidationError as error:
            raise CommandError(_messages(error)) from error
        self.stdout.write(f"Created {region.name}, {unit.name} and {user.username} as the first system administrator.")

    def _ask(self, prompt: str, interactive: bool, option: str) -> str:
        if not interactive:
            raise CommandError(f"{option} is required when not running interactively.")
        return input(prompt).strip()

    def _ask_unit(self, interactive: bool) -> int:
        answer = self._ask("Unit id: ", interactive, "--unit")
        try:
            return int(answer)
        except ValueError as error:
            raise CommandError(f"A unit id is a number, not {answer!r}.") from error

    def _password(self, password_file: Path | None, interactive: bool) -> str:
        if password_file is not None:
            try:
                return password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as error:
                raise CommandError(f"Cannot read {password_file}: {error.strerror}.") from error
        if not interactive:
            raise CommandError("No password: give --password-file when not running interactively.")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ; nothing was created.")
        return password


def _messages(error: ValidationError) -> str:
    return " ".join(str(message) for message in error.messages)
