"""Reads of the organisation that pages and the API share: finding users by protected fields.

Phones and ID numbers are stored encrypted, so they are found only through their
blind indexes, by exact value after normalisation: there is no prefix or partial
search of a phone or an ID number, ever (a prefix search over an index would be a
dictionary attack on it).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from rightscare.core import identity
from rightscare.core.fields import BlindIndexField
from rightscare.org import access
from rightscare.org.models import User


def _candidates(field_name: str, normalised: str) -> list[str]:
    field = User._meta.get_field(field_name)
    assert isinstance(field, BlindIndexField)
    return field.candidates(normalised)


def find_users_by_phone(*, by: Any, phone: str) -> QuerySet[User]:
    """The users ``by`` administers whose phone is exactly ``phone`` (in any usual form).

    The number is normalised to E.164 and looked up through every key of the index
    ring, so lookups keep working during an index-key rotation. Raises
    ``ValidationError`` (on ``phone``) when it is not a valid number.
    """
    try:
        normalised = identity.normalise_phone(phone)
    except ValidationError as error:
        raise ValidationError({"phone": error.error_list}) from error
    return access.visible_users(by).filter(phone_index__in=_candidates("phone_index", normalised))


def find_users_by_id_number(*, by: Any, id_number: str) -> QuerySet[User]:
    """The users ``by`` administers whose ID number is exactly ``id_number``.

    The number must pass the ID-number errors (length, format, date, check digit);
    its warnings do not matter for a lookup. Raises ``ValidationError`` (on
    ``id_number``) otherwise.
    """
    try:
        normalised = identity.normalise_id_number(id_number)
    except ValidationError as error:
        raise ValidationError({"id_number": error.error_list}) from error
    return access.visible_users(by).filter(id_number_index__in=_candidates("id_number_index", normalised))
