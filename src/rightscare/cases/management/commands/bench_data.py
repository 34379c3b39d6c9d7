"""``rightscare bench-data --cases N``: synthetic regions, units, people and cases for benchmarks."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from rightscare.cases.benchdata import DEFAULT_CHUNK, BenchDataError, Shape, generate


class Command(BaseCommand):
    help = (
        "Fill an empty database with synthetic regions (codes in the unused provinces 90–99, scheme 'other'), units, users, "
        "people and cases with their work orders, timelines, clocks and ratings, deterministically for a seed. Never on a production database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, required=True, help="how many cases (1,000,000 for the national-scale benchmarks)")
        parser.add_argument("--seed", type=int, default=1, help="the same seed and --until give the same data (default 1)")
        parser.add_argument(
            "--shape",
            default="4,4,5,4,4",
            help="provinces,cities per province,districts per city,streets per district,communities per street (default 4,4,5,4,4)",
        )
        parser.add_argument("--years", type=int, default=5, help="the cases come in over this many years (default 5)")
        parser.add_argument("--until", type=datetime.date.fromisoformat, help="the day the simulated history ends, YYYY-MM-DD (default today)")
        parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help=f"cases per transaction (default {DEFAULT_CHUNK})")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["cases"] < 1:
            raise CommandError("--cases must be at least 1.")
        try:
            shape = Shape.parse(options["shape"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        until = None
        if options["until"] is not None:
            day: datetime.date = options["until"]
            until = timezone.make_aware(datetime.datetime.combine(day, datetime.time()))
        try:
            report = generate(
                cases=options["cases"],
                seed=options["seed"],
                shape=shape,
                years=options["years"],
                until=until,
                chunk=options["chunk"],
                progress=not options["no_progress"],
            )
        except BenchDataError as error:
            raise CommandError(str(error)) from error
        rows = ", ".join(f"{count:,} {name}" for name, count in sorted(report.counts.items()) if name != "cases")
        self.stdout.write(f"Wrote {report.counts['cases']:,} cases in {report.seconds:.1f} s ({report.rate:,.0f} cases/s, {report.method}): {rows}.\n")
