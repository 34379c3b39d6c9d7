"""The seed taxonomy of rights cases (two levels), loaded by a data migration and the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CATEGORIES_FILE = Path(__file__).parent / "data" / "categories.json"

FLAGS = ("domestic_violence", "child_protection")


def seed_categories(category_model: Any) -> int:
    """Create the seed categories that do not exist yet (by code); return how many were created."""
    created = 0
    for top in json.loads(CATEGORIES_FILE.read_text(encoding="utf-8")):
        parent, was_created = category_model.objects.get_or_create(
            code=top["code"],
            valid_until=None,
            defaults={"name": top["name"], "name_en": top["name_en"], "sort_order": top["sort_order"], **{f: top.get(f, False) for f in FLAGS}},
        )
        created += was_created
        for child in top["children"]:
            _child, was_created = category_model.objects.get_or_create(
                code=child["code"],
                valid_until=None,
                defaults={
                    "name": child["name"],
                    "name_en": child["name_en"],
                    "sort_order": child["sort_order"],
                    "parent": parent,
                    **{f: child.get(f, False) for f in FLAGS},
                },
            )
            created += was_created
    return created
