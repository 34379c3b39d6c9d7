"""``rightscare check``: is this installation configured to run safely?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from rightscare.core.checks import Finding, run_checks


class Command(BaseCommand):
    help = "Check the configuration: secret key, database, locale; exit non-zero on any error."

    def handle(self, *args: Any, **options: Any) -> None:
        findings: list[Finding] = run_checks()
        # Django's own system checks (models, URLs, security settings).
        try:
            call_command("check", stdout=self.stdout, stderr=self.stderr, verbosity=0)
        except CommandError as error:
            findings.append(Finding("error", f"Django system check: {error}"))
        for finding in findings:
            style = self.style.ERROR if finding.level == "error" else self.style.WARNING if finding.level == "warning" else self.style.SUCCESS
            self.stdout.write(style(f"[{finding.level}] {finding.message}"))
        vendor = connection.vendor
        self.stdout.write(f"database: {vendor}; tasks: {settings.TASKS_BACKEND}; demo: {settings.DEMO}")
        if any(f.level == "error" for f in findings):
            raise CommandError("the configuration has errors")
        self.stdout.write(self.style.SUCCESS("configuration OK"))
