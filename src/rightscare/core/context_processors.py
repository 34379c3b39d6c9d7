"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def product(request: HttpRequest) -> dict[str, Any]:
    """Expose the product's flags that the page shell needs."""
    return {"DEMO": settings.DEMO, "LANGUAGES": settings.LANGUAGES}
