"""Pieces of API input every app's operations share: record ids, idempotency keys, field names.

A service's ``ValidationError`` names the model's fields (``region``, ``lead``); the
request body names them as the client knows them (``region_id``, ``lead_id``). A 422
must name the field the client can correct, hence :func:`fields_renamed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from django.core.exceptions import ValidationError
from ninja import Field, Header

#: A database id: bigger numbers cannot exist and would overflow the database's integer.
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]

#: A client's key for one submission (printable ASCII, as an HTTP header carries it).
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        pattern=r"^[!-~]+$",
        description="A key of your choice for this submission: sending it again answers with the first result (200) instead of creating a second record.",
    ),
]


@contextmanager
def fields_renamed(**names: str) -> Iterator[None]:
    """Re-raise a ``ValidationError`` from the block with its field names mapped through ``names``."""
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        raise ValidationError({names.get(field, field): messages for field, messages in error.error_dict.items()}) from error
