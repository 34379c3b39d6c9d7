"""Searching the audit log: one filter for the auditors' pages, their CSV export and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.audit.models import AuditEntry

#: Ids are 64-bit integers; longer digit strings are searched as text only.
MAX_ID_DIGITS = 18


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor searches for; empty fields do not filter.

    ``user`` and ``unit`` are an id or a piece of the name recorded with the entry
    (a username, a full name, a unit's name). Both times are inclusive; an ``at_to``
    without seconds includes its whole minute (a page's date-and-time field shows minutes).
    """

    user: str = ""
    unit: str = ""
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    at_from: datetime | None = None
    at_to: datetime | None = None

    def describe(self) -> dict[str, str]:
        """The filters in use, as text (for the audit entry of an export)."""
        return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in asdict(self).items() if value}


def _id_or_text(id_field: str, label_field: str, text: str) -> Q:
    condition = Q(**{f"{label_field}__icontains": text})
    if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS:
        condition |= Q(**{id_field: int(text)})
    return condition


def checked_moment(value: datetime | None, *, field: str) -> datetime | None:
    """An aware instant the database can store, or a ``ValidationError`` naming ``field``."""
    if value is None:
        return None
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        in_utc = value.astimezone(UTC)
        (in_utc + timedelta(minutes=1)).astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise ValidationError({field: [_("This date is out of range.")]}) from error
    # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
    return in_utc


def search_entries(criteria: AuditFilter) -> QuerySet[AuditEntry]:
    """The entries matching ``criteria``, newest first.

    The caller has checked that the user may read the audit log; the log has no
    scope below that (an auditor reads all of it).
    """
    entries = AuditEntry.objects.all().order_by("-at", "-id")
    user, unit = criteria.user.strip(), criteria.unit.strip()
    if user:
        entries = entries.filter(_id_or_text("actor_id", "actor_label", user))
    if unit:
        entries = entries.filter(_id_or_text("unit_id", "unit_label", unit))
    if criteria.object_type.strip():
        entries = entries.filter(object_type=criteria.object_type.strip())
    if criteria.object_id.strip():
        entries = entries.filter(object_id=criteria.object_id.strip())
    if criteria.action:
        entries = entries.filter(action=criteria.action)
    at_from = checked_moment(criteria.at_from, field="at_from")
    at_to = checked_moment(criteria.at_to, field="at_to")
    if at_from is not None:
        entries = entries.filter(at__gte=at_from)
    if at_to is not None:
        if at_to.second == 0 and at_to.microsecond == 0:
            entries = entries.filter(at__lt=at_to + timedelta(minutes=1))
        else:
            entries = entries.filter(at__lte=at_to)
    return entries


def object_types() -> list[tuple[str, str]]:
    """The kinds of record the log can mention (``org.user``…) with their names, for the search form."""
    models = [m for m in apps.get_models() if m.__module__.startswith("rightscare.")]
    return sorted((m._meta.label_lower, f"{m._meta.verbose_name} ({m._meta.label_lower})") for m in models)
