"""Key rotation: re-encrypt protected fields and recompute blind indexes under the active keys.

Both walks find their fields through ``apps.get_models()``, so a protected field
added by any app is rotated without a change here. They work in batches, each
its own transaction, in primary-key order, and skip what is already done, so an
interrupted run is simply started again. A row changed by a user while a batch
is being worked on is left alone: whoever changed it wrote it with the active key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models.functions import Substr

from rightscare.core import crypto, identity
from rightscare.core.fields import BlindIndexField, EncryptedTextField

#: Called with the label of the field being worked on and how many values it has to do;
#: returns a function to call with the number done after each batch, and one to call at the end.
Progress = Callable[[str, int], tuple[Callable[[int], object], Callable[[], object]]]

DEFAULT_BATCH_SIZE = 500


def _no_progress(label: str, total: int) -> tuple[Callable[[int], object], Callable[[], object]]:
    return (lambda done: None), (lambda: None)


@dataclass
class FieldReport:
    """What one rotation did to one field."""

    label: str
    rewritten: int = 0
    current: int = 0
    failed: list[Any] = field(default_factory=list)


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    """Every encrypted field of every installed model, in its own table (not inherited copies)."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                yield model, model_field


def blind_index_fields() -> Iterator[tuple[type[models.Model], BlindIndexField]]:
    """Every blind-index field of every installed model."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, BlindIndexField):
                yield model, model_field


def _label(model: type[models.Model], model_field: models.Field[Any, Any]) -> str:
    return f"{model._meta.db_table}.{model_field.column}"


# --- field key ------------------------------------------------------------------------


def rotate_field_key(*, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = _no_progress) -> list[FieldReport]:
    """Re-encrypt every protected value not written with the active field key.

    Precondition: the new key is first in ``RIGHTSCARE_FIELD_KEY`` and every key a
    stored value was written with is still in the ring; a value under a key that is
    not raises :class:`crypto.KeyError_` naming the key (batches done so far stay done).
    Works on the raw ciphertexts with SQL, because the ORM would decrypt them
    on the way in and could not tell which key they were written with.
    """
    if batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    crypto.reset_keys()
    ring = crypto.field_keys()
    prefix = f"{crypto.CIPHERTEXT_PREFIX}${ring.active}$"
    quote = connection.ops.quote_name
    reports = []
    for model, model_field in encrypted_fields():
        table, column, pk_column = quote(model._meta.db_table), quote(str(model_field.column)), quote(str(model._meta.pk.column))
        context = model_field.encryption_context()
        # SUBSTR, not LIKE: SQLite's LIKE ignores case, and key ids may differ only in case.
        stored = f"{column} IS NOT NULL AND {column} <> ''"
        stale = f"{stored} AND SUBSTR({column}, 1, %s) <> %s"
        report = FieldReport(_label(model, model_field))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {stale}", [len(prefix), prefix])  # noqa: S608 - quoted identifiers
            total = int(cursor.fetchone()[0])
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {stored} AND SUBSTR({column}, 1, %s) = %s", [len(prefix), prefix])  # noqa: S608
            report.current = int(cursor.fetchone()[0])
        advance, finish = progress(report.label, total)
        last_pk: Any = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                after = f"{pk_column} > %s AND " if last_pk is not None else ""
                params: list[Any] = ([last_pk] if last_pk is not None else []) + [len(prefix), prefix, batch_size]
                cursor.execute(f"SELECT {pk_column}, {column} FROM {table} WHERE {after}{stale} ORDER BY {pk_column} LIMIT %s", params)  # noqa: S608
                rows = cursor.fetchall()
                for pk, ciphertext in rows:
                    fresh = crypto.encrypt(crypto.decrypt(ciphertext, context=context), context=context)
                    # Only if nobody changed the value meanwhile (then it is on the active key already).
                    cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s AND {column} = %s", [fresh, pk, ciphertext])  # noqa: S608
                    report.rewritten += cursor.rowcount
            if not rows:
                break
            last_pk = rows[-1][0]
            advance(len(rows))
        finish()
        reports.append(report)
    return reports


# --- index key ------------------------------------------------------------------------


def rotate_index_key(*, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = _no_progress) -> list[FieldReport]:
    """Recompute every blind index not computed with the active index key, from its source field.

    The source value is decrypted, normalised for the index's ``kind`` and digested
    with the active key; an empty source gets an empty index. A stored value that no
    longer normalises (it was saved under older rules) keeps its index and is
    listed in the report's ``failed`` by primary key, never by value. Also the way
    back from a lost index key: configure a new one and run this.
    """
    if batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    crypto.reset_keys()
    ring = crypto.index_keys()
    prefix = f"{ring.active}$"
    reports = []
    for model, index_field in blind_index_fields():
        source = model._meta.get_field(index_field.source)
        assert isinstance(source, EncryptedTextField), f"{index_field} indexes {source}, which is not encrypted"
        index_name, source_name = index_field.attname, source.attname
        # Substr, not startswith: SQLite's LIKE ignores case.
        pending = (
            model._base_manager.annotate(_rotation_key=Substr(index_name, 1, len(prefix)))
            .exclude(_rotation_key=prefix)
            .exclude(models.Q(**{index_name: ""}) & models.Q(**{source_name: ""}))
        )
        report = FieldReport(_label(model, index_field))
        total = pending.count()
        report.current = model._base_manager.annotate(_rotation_key=Substr(index_name, 1, len(prefix))).filter(_rotation_key=prefix).count()
        advance, finish = progress(report.label, total)
        last_pk: Any = None
        while True:
            with transaction.atomic():
                batch = pending if last_pk is None else pending.filter(pk__gt=last_pk)
                rows = list(batch.order_by("pk").values_list("pk", source_name, index_name)[:batch_size])
                for pk, plain, old_index in rows:
                    try:
                        digest = index_field.digest(identity.normalise(index_field.kind, plain) if plain else "")
                    except ValidationError:
                        report.failed.append(pk)
                        continue
                    # Only if nobody changed the row meanwhile (then its index is current already).
                    report.rewritten += model._base_manager.filter(pk=pk, **{index_name: old_index}).update(**{index_name: digest})
            if not rows:
                break
            last_pk = rows[-1][0]
            advance(len(rows))
        finish()
        reports.append(report)
    return reports
