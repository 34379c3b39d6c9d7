"""Recording people at intake: identity, phones, guardianship and safe-contact instructions."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.audit.models import AuditAction
from rightscare.audit.services import record
from rightscare.core import identity
from rightscare.core.fields import BlindIndexField
from rightscare.org import access
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability
from rightscare.registry.models import Person, PersonPhone, SafeContact, Sex


def _digest(model: Any, field_name: str, normalised: str) -> str:
    field = model._meta.get_field(field_name)
    assert isinstance(field, BlindIndexField)
    return field.digest(normalised)


@dataclass
class SafeContactInput:
    """How she said it is safe to reach her."""

    may_call: bool = True
    may_text: bool = True
    may_leave_voicemail: bool = False
    safe_from: datetime.time | None = None
    safe_until: datetime.time | None = None
    code_word: str = ""
    neutral_sender: str = ""


#: Who may record a person for a unit: a member of it who takes calls, dispatches or handles work.
MAY_RECORD_PEOPLE = frozenset({Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES, Capability.HANDLE_WORK_ORDERS})


def record_person(
    *,
    by: Any,
    unit: Unit,
    name: str,
    sex: str = Sex.UNKNOWN,
    date_of_birth: datetime.date | None = None,
    approximate_age: int | None = None,
    id_number: str = "",
    confirm_id_warnings: bool = False,
    phones: list[tuple[str, bool]] = (),  # type: ignore[assignment]
    guardian: Person | None = None,
    guardian_is_alleged_abuser: bool = False,
    address_region: Region | None = None,
    address: str = "",
    address_confidential: bool = False,
    safe_contact: SafeContactInput | None = None,
) -> Person:
    """Record a person for ``unit`` with her phones (each ``(number, shared)``) and safe-contact rules.

    ID numbers are validated (length, date, check digit are errors; a birth-place code
    not in use in the birth year is a warning she must confirm); phones are normalised.
    Both are stored encrypted with blind indexes; the audit records them as "changed".
    """
    if not (unit.is_active and access.member_of_any(by, {unit.pk}, MAY_RECORD_PEOPLE)):
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    if sex not in Sex.values:
        errors["sex"] = [_("Unknown sex.")]
    if approximate_age is not None and not 0 <= approximate_age <= 130:
        errors["approximate_age"] = [_("An age is between 0 and 130.")]
    normalised_id = ""
    if id_number.strip():
        try:
            checked = identity.check_id_number(id_number)
        except ValidationError as error:
            errors["id_number"] = list(error.messages)
        else:
            if checked.warnings and not confirm_id_warnings:
                errors["id_number"] = [*checked.warnings, _("Confirm the ID number if it is right.")]
            else:
                normalised_id = checked.value
    normalised_phones: list[tuple[str, bool]] = []
    for raw, shared in phones:
        try:
            normalised_phones.append((identity.normalise_phone(raw), shared))
        except ValidationError as error:
            errors.setdefault("phones", []).extend(error.messages)
    if guardian_is_alleged_abuser and guardian is None:
        errors["guardian"] = [_("Name the guardian who is the alleged abuser.")]
    if errors:
        raise ValidationError(errors)
    # No savepoint of its own when inside a caller's transaction (a hotline call): nothing in
    # this block raises but the database, and a database error aborts that transaction anyway.
    with transaction.atomic(savepoint=False):
        person = Person.objects.create(
            name=name.strip(),
            sex=sex,
            date_of_birth=date_of_birth,
            approximate_age=approximate_age,
            age_recorded_on=timezone.localdate() if approximate_age is not None else None,
            id_number=normalised_id,
            id_number_index=_digest(Person, "id_number_index", normalised_id) if normalised_id else "",
            guardian=guardian,
            guardian_is_alleged_abuser=guardian_is_alleged_abuser,
            address_region=address_region,
            address=address.strip(),
            address_confidential=address_confidential,
            recorded_by_unit=unit,
        )
        for number, shared in normalised_phones:
            PersonPhone.objects.create(person=person, phone=number, phone_index=_digest(PersonPhone, "phone_index", number), shared=shared)
        if safe_contact is not None:
            SafeContact.objects.create(person=person, **safe_contact.__dict__)
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="registry.record_person",
            obj=person,
            unit=unit,
            changes={
                "id_number": "changed" if normalised_id else None,
                "phones": "changed" if normalised_phones else None,
                "address": "changed" if address else None,
            },
        )
    return person


def set_safe_contact(*, by: Any, person: Person, rules: SafeContactInput, unit: Unit | None = None) -> SafeContact:
    """Record (or replace) how it is safe to contact her."""
    with transaction.atomic():
        safe, _created = SafeContact.objects.update_or_create(person=person, defaults=rules.__dict__)
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="registry.set_safe_contact",
            obj=person,
            unit=unit,
            changes={"code_word": "changed" if rules.code_word else None},
        )
    return safe


def people_with_phone(phone: str) -> list[PersonPhone]:
    """Every stored phone row of exactly this number (blind-index lookup of the whole normalised number)."""
    normalised = identity.normalise_phone(phone)
    field = PersonPhone._meta.get_field("phone_index")
    assert isinstance(field, BlindIndexField)
    return list(PersonPhone.objects.filter(phone_index__in=field.candidates(normalised)).select_related("person"))
