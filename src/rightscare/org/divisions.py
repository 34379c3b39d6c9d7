"""Official region codes: China's 12-digit statistical division code (统计用区划代码).

The National Bureau of Statistics publishes one code per division: 2 digits of
province, 2 of city (prefecture), 2 of county/district, 3 of township/street and
3 of village/community. A code of a level is its significant digits followed by
zeros, and the code of a child starts with the significant digits of its parent's.
"""

from __future__ import annotations

import re

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    DISTRICT = "district", _("District / county")
    STREET = "street", _("Street / town")
    COMMUNITY = "community", _("Community / village")
    GRID = "grid", _("Grid")
    BUILDING = "building", _("Building")


#: Depth order of the levels; a child's level must be deeper than its parent's.
LEVEL_ORDER: dict[str, int] = {level.value: index for index, level in enumerate(RegionLevel)}

#: How many leading digits are significant at each level that has a statistical code.
SIGNIFICANT_DIGITS: dict[str, int] = {
    RegionLevel.PROVINCE: 2,
    RegionLevel.CITY: 4,
    RegionLevel.DISTRICT: 6,
    RegionLevel.STREET: 9,
    RegionLevel.COMMUNITY: 12,
}

_TWELVE_DIGITS = re.compile(r"^\d{12}$")


class CodeScheme(models.TextChoices):
    CN_STATS = "cn_stats", _("China statistical division code (12 digits)")
    OTHER = "other", _("Other code")


def code_errors(*, code: str, level: str, scheme: str, parent_code: str = "", parent_level: str = "") -> list[str]:
    """Return what is wrong with ``code`` for a region of ``level`` (empty when valid).

    An empty code is always valid: codes are optional and must never be invented.
    """
    if not code:
        return []
    if scheme != CodeScheme.CN_STATS:
        return [] if len(code) <= 32 else [str(_("A code may have at most 32 characters."))]
    if not _TWELVE_DIGITS.match(code):
        return [str(_("A statistical division code has exactly 12 digits."))]
    significant = SIGNIFICANT_DIGITS.get(level)
    if significant is None:
        return [str(_("Regions of this level have no statistical division code."))]
    if code[significant:] != "0" * (12 - significant):
        return [str(_("For this level only the first %(digits)d digits may be non-zero.")) % {"digits": significant}]
    previous = max((d for d in SIGNIFICANT_DIGITS.values() if d < significant), default=0)
    if set(code[previous:significant]) == {"0"}:
        return [str(_("The digits of this level must not all be zero."))]
    if parent_code and parent_level in SIGNIFICANT_DIGITS and _TWELVE_DIGITS.match(parent_code):
        parent_significant = SIGNIFICANT_DIGITS[parent_level]
        if code[:parent_significant] != parent_code[:parent_significant]:
            return [str(_("The code must start with the parent region's code %(prefix)s.")) % {"prefix": parent_code[:parent_significant]}]
    return []
