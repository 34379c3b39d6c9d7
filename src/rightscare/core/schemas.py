"""Base schema of API input: text the database cannot store is refused with a 422."""

from typing import Any

from ninja import Schema
from pydantic import field_validator


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class Input(Schema):
    """Every request body derives from this: NUL characters are refused (PostgreSQL cannot store them)."""

    @field_validator("*", mode="before")
    @classmethod
    def refuse_nul_characters(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value
