"""Model fields for protected data: encrypted text and its blind index."""

from __future__ import annotations

from typing import Any

from django.db import models

from rightscare.core import crypto


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored encrypted with AES-GCM under the active field key.

    The value is bound to its table and column, so a ciphertext copied into another
    column does not decrypt. Encrypted fields cannot be filtered on: look rows up
    through their blind index instead. An empty value is stored as empty text.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def encryption_context(self) -> str:
        """What a value is bound to: its table and column (``org_user.phone``)."""
        return f"{self.model._meta.db_table}.{self.column}"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        return crypto.decrypt(value, context=self.encryption_context())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value), context=self.encryption_context())

    def get_lookup(self, lookup_name: str) -> Any:
        # Only emptiness can be asked of a ciphertext; anything else would silently match nothing.
        if lookup_name not in {"isnull", "exact"}:
            return None
        return super().get_lookup(lookup_name)


class BlindIndexField(models.CharField):  # type: ignore[type-arg]
    """A keyed digest (``key-id$hex``) of a normalised value, for exact lookup only.

    ``source`` names the encrypted field it indexes and ``kind`` the normalisation
    (``phone``, ``id_number``…), so that rotating the index key can recompute it.
    """

    def __init__(self, *args: Any, source: str = "", kind: str = "", **kwargs: Any) -> None:
        self.source = source
        self.kind = kind
        kwargs.setdefault("max_length", 80)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def digest(self, normalised: str) -> str:
        """The value to store for an already normalised source value (empty for empty)."""
        return crypto.blind_index(self.kind, normalised) if normalised else ""

    def candidates(self, normalised: str) -> list[str]:
        """The values a row holding ``normalised`` may carry: one per key in the ring (mid-rotation lookups)."""
        return crypto.blind_index_candidates(self.kind, normalised)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["kind"] = self.kind
        return name, path, args, kwargs
