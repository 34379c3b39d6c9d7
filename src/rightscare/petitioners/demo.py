"""Demo data of the petitioner's loop: tracking codes for the demo's finished cases.

In the demo (``RIGHTSCARE_DEMO``) and the tests the codes are fixed, so the user guide can
name them (docs/user-guide/tracking.md): Zhao's closed pregnancy-discrimination case is
``DEM0-ZHA0-CASE-0001`` with PIN ``246810``. Anywhere else the loader issues random codes,
which nobody can read back: the demo is not meant to run outside demo mode.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from rightscare.cases.models import FINAL_CASE_STATUSES, Case, CaseStatus
from rightscare.org.models import Unit
from rightscare.petitioners import services

#: The documented demo code and PIN of Zhao's case (demo and tests only).
ZHAO_CODE = "DEM0-ZHA0-CASE-0001"
ZHAO_PIN = "246810"
ZHAO_SUMMARY_START = "在公司工作六年"


def load(*, admin: Any, units: dict[str, Unit]) -> None:
    """Demo loader hook (see ``rightscare.org.demo.DEMO_EXTENSIONS``): codes for the finished cases."""
    fixed = bool(settings.DEMO or settings.TESTING)
    finished = Case.objects.filter(status__in=[*FINAL_CASE_STATUSES, CaseStatus.RESOLVED]).exclude(status=CaseStatus.MERGED).order_by("pk")
    for case in finished:
        is_zhao = case.summary.startswith(ZHAO_SUMMARY_START)
        if fixed and is_zhao:
            services.ensure_tracking_code(case=case, code=ZHAO_CODE, pin=ZHAO_PIN)
        else:
            services.ensure_tracking_code(case=case)
