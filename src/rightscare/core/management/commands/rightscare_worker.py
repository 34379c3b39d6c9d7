"""``rightscare worker``: run the task worker of the configured backend."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the task worker (database queue by default, RQ when configured)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")

    def handle(self, *args: Any, batch: bool = False, **options: Any) -> None:
        if settings.TASKS_BACKEND == "rq":
            extra = ["--burst"] if batch else []
            call_command("rqworker", "default", "--job-class", "django_tasks_rq.Job", *extra)
        elif settings.TASKS_BACKEND == "db":
            extra = ["--batch"] if batch else []
            call_command("db_worker", "--queue-name", "*", "--no-reload", *extra)
        else:
            self.stdout.write("The task backend runs tasks immediately; no worker is needed.")
