"""Use cases that change the organisation: regions, units, users, roles and API tokens.

Each function checks permission through :mod:`rightscare.org.access`, runs in one
transaction and is the only way the web pages, the API and the command line
make the change, so they cannot drift apart.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.core import identity
from rightscare.core.fields import BlindIndexField
from rightscare.org import access
from rightscare.org.divisions import LEVEL_ORDER, CodeScheme, code_errors
from rightscare.org.models import ApiToken, Membership, Region, Unit, UnitKind, User, token_digest
from rightscare.org.roles import Capability, Role

# --- audit snapshots ---------------------------------------------------------------
# Every write below records an audit entry in its own transaction: who, for which
# unit, which object and what changed (field: [old, new]).

#: User fields whose values never reach the audit log, only that they "changed".
SECRET_USER_FIELDS = frozenset({"password", "phone", "id_number"})


def _region_snapshot(region: Region) -> dict[str, Any]:
    return {k: getattr(region, k) for k in ("name", "name_en", "level", "code_scheme", "code", "parent")}


def _unit_snapshot(unit: Unit) -> dict[str, Any]:
    return {k: getattr(unit, k) for k in ("name", "name_en", "kind", "region", "parent", "duty_phone", "is_active")}


def _user_snapshot(user: User) -> dict[str, Any]:
    return {k: getattr(user, k) for k in ("username", "full_name", "email", "is_active")}


# --- regions ------------------------------------------------------------------


def _check_region(*, name: str, level: str, code_scheme: str, code: str, parent: Region | None, exclude_pk: int = 0) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors.setdefault("name", []).append(_("A name is required."))
    if level not in LEVEL_ORDER:
        errors.setdefault("level", []).append(_("Unknown level."))
    elif parent is not None and LEVEL_ORDER[level] <= LEVEL_ORDER[parent.level]:
        errors.setdefault("level", []).append(_("A region must be of a deeper level than its parent."))
    if code_scheme not in CodeScheme.values:
        errors.setdefault("code_scheme", []).append(_("Unknown code scheme."))
    else:
        problems = code_errors(
            code=code,
            level=level,
            scheme=code_scheme,
            parent_code=parent.code if parent and parent.code_scheme == code_scheme else "",
            parent_level=parent.level if parent else "",
        )
        if problems:
            errors.setdefault("code", []).extend(problems)
        elif code and Region.objects.filter(code_scheme=code_scheme, code=code).exclude(pk=exclude_pk).exists():
            errors.setdefault("code", []).append(_("Another region already has this code."))
    if errors:
        raise ValidationError(errors)


def _place_region(region: Region) -> None:
    parent_path = region.parent.path if region.parent else "/"
    region.path = f"{parent_path}{region.pk}/"
    region.depth = region.path.count("/") - 2
    region.save(update_fields=["path", "depth"])


def create_region(
    *, by: Any, name: str, level: str, parent: Region | None, code: str = "", code_scheme: str = CodeScheme.CN_STATS, name_en: str = ""
) -> Region:
    """Add a region under ``parent`` (a root when None).

    Only a system administrator may; the code, if given, must fit the level and start
    with the parent's code.
    """
    if not access.may_manage_regions(by):
        raise PermissionDenied
    name, code = name.strip(), code.strip()
    _check_region(name=name, level=level, code_scheme=code_scheme, code=code, parent=parent)
    with transaction.atomic():
        region = Region.objects.create(name=name, name_en=name_en.strip(), level=level, code_scheme=code_scheme, code=code, parent=parent)
        _place_region(region)
        audit.record(
            actor=by,
            action=AuditAction.CREATE,
            event="org.create_region",
            obj=region,
            unit=access.acting_unit(by, region, capability=Capability.MANAGE_REGIONS),
            changes=audit.diff({}, _region_snapshot(region)),
        )
    return region


def update_region(
    *, by: Any, region: Region, name: str, level: str, parent: Region | None, code: str = "", code_scheme: str = CodeScheme.CN_STATS, name_en: str = ""
) -> Region:
    """Change a region; moving it under another parent moves its whole subtree."""
    if not access.may_manage_regions(by):
        raise PermissionDenied
    if parent is not None and parent.path.startswith(region.path):
        raise ValidationError({"parent": [_("A region cannot be moved under itself or its own subtree.")]})
    name, code = name.strip(), code.strip()
    _check_region(name=name, level=level, code_scheme=code_scheme, code=code, parent=parent, exclude_pk=region.pk)
    deeper = region.children.all()
    if deeper.exists() and any(LEVEL_ORDER[child.level] <= LEVEL_ORDER[level] for child in deeper):
        raise ValidationError({"level": [_("A sub-region would no longer be deeper than this region.")]})
    before = _region_snapshot(region)
    with transaction.atomic():
        old_path = region.path
        region.name, region.name_en, region.level = name, name_en.strip(), level
        region.code, region.code_scheme, region.parent = code, code_scheme, parent
        region.save()
        _place_region(region)
        if old_path != region.path:
            # Rewrite the prefix of every descendant in one statement.
            Region.objects.filter(path__startswith=old_path).exclude(pk=region.pk).update(path=Concat(Value(region.path), Substr(F("path"), len(old_path) + 1)))
            for descendant in Region.objects.filter(path__startswith=region.path).exclude(pk=region.pk).only("path"):
                descendant.depth = descendant.path.count("/") - 2
                descendant.save(update_fields=["depth"])
        audit.record(
            actor=by,
            action=AuditAction.UPDATE,
            event="org.update_region",
            obj=region,
            unit=access.acting_unit(by, region, capability=Capability.MANAGE_REGIONS),
            changes=audit.diff(before, _region_snapshot(region)),
        )
    return region


REGION_CSV_COLUMNS = ["code", "name", "level", "parent_code", "name_en", "code_scheme"]


@dataclass
class ImportReport:
    """What a region import did, or why it did nothing."""

    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _ImportRow:
    line: int
    code: str
    name: str
    level: str
    parent_code: str
    name_en: str
    code_scheme: str


def _read_rows(text: str, report: ImportReport) -> list[_ImportRow]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "name", "level", "parent_code"} - set(reader.fieldnames or [])
    if missing:
        report.errors.append((1, _("Missing columns: %(columns)s.") % {"columns": ", ".join(sorted(missing))}))
        return []
    rows = []
    for record in reader:
        line = reader.line_num
        rows.append(
            _ImportRow(
                line=line,
                code=(record.get("code") or "").strip(),
                name=(record.get("name") or "").strip(),
                level=(record.get("level") or "").strip(),
                parent_code=(record.get("parent_code") or "").strip(),
                name_en=(record.get("name_en") or "").strip(),
                code_scheme=(record.get("code_scheme") or CodeScheme.CN_STATS).strip(),
            )
        )
    return rows


def import_regions(*, by: Any, text: str, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import regions from CSV text (columns ``code,name,level,parent_code[,name_en,code_scheme]``).

    Rows are matched by code: a known code updates the region's names, a new one
    creates it under its parent (a region already stored or another row of the
    file, in any order). Every row is checked first; bad codes, unknown parents and
    cycles are reported with their line numbers and then nothing is imported.
    """
    if not access.may_manage_regions(by):
        raise PermissionDenied
    report = ImportReport()
    rows = _read_rows(text, report)
    if report.errors:
        return report
    by_code: dict[str, _ImportRow] = {}
    for row in rows:
        if not row.name:
            report.errors.append((row.line, _("A name is required.")))
        if row.level not in LEVEL_ORDER:
            report.errors.append((row.line, _("Unknown level %(level)s.") % {"level": row.level}))
        if row.code_scheme not in CodeScheme.values:
            report.errors.append((row.line, _("Unknown code scheme %(scheme)s.") % {"scheme": row.code_scheme}))
        if row.code:
            if row.code in by_code:
                report.errors.append(
                    (row.line, _("Code %(code)s appears twice (first on line %(line)d).") % {"code": row.code, "line": by_code[row.code].line})
                )
            by_code.setdefault(row.code, row)
    stored = {r.code: r for r in Region.objects.filter(code__in=[r.code for r in rows if r.code] + [r.parent_code for r in rows if r.parent_code])}
    for row in rows:
        if row.parent_code and row.parent_code not in by_code and row.parent_code not in stored:
            report.errors.append((row.line, _("Unknown parent %(code)s.") % {"code": row.parent_code}))
        if row.code in stored and stored[row.code].level != row.level:
            report.errors.append((row.line, _("Region %(code)s exists with another level.") % {"code": row.code}))
    # Cycles: follow parents within the file; a chain that returns to a row is a cycle.
    for row in rows:
        seen = {row.code}
        current = row
        while current.parent_code in by_code:
            current = by_code[current.parent_code]
            if current.code in seen:
                report.errors.append((row.line, _("The parents of %(code)s form a cycle.") % {"code": row.code}))
                break
            seen.add(current.code)
    if report.errors:
        report.errors.sort()
        return report
    for row in rows:
        parent_row = by_code.get(row.parent_code)
        parent_level = parent_row.level if parent_row else (stored[row.parent_code].level if row.parent_code else "")
        if parent_level and row.level in LEVEL_ORDER and LEVEL_ORDER[row.level] <= LEVEL_ORDER[parent_level]:
            report.errors.append((row.line, _("A region must be of a deeper level than its parent.")))
        for problem in code_errors(code=row.code, level=row.level, scheme=row.code_scheme, parent_code=row.parent_code, parent_level=parent_level):
            report.errors.append((row.line, problem))
    if report.errors:
        report.errors.sort()
        return report

    def depth(row: _ImportRow) -> int:
        count, current = 0, row
        while current.parent_code in by_code:
            current, count = by_code[current.parent_code], count + 1
        return count

    with transaction.atomic():
        acting = access.acting_unit(by, capability=Capability.MANAGE_REGIONS)
        placed: dict[str, Region] = dict(stored)
        for done, row in enumerate(sorted(rows, key=depth), start=1):
            existing = placed.get(row.code) if row.code else None
            if existing is not None and row.code in stored:
                names = {"name": existing.name, "name_en": existing.name_en}
                existing.name, existing.name_en = row.name, row.name_en or existing.name_en
                existing.save(update_fields=["name", "name_en", "updated_at"])
                _record_imported_region(by=by, unit=acting, region=existing, before=names)
                report.updated += 1
            else:
                parent = placed.get(row.parent_code) if row.parent_code else None
                # A region without a code is known by its parent, level and name, so
                # importing an export again updates it instead of making a copy.
                twin = None if row.code else Region.objects.filter(parent=parent, level=row.level, name=row.name, code="").first()
                if twin is not None:
                    names = {"name": twin.name, "name_en": twin.name_en}
                    twin.name_en = row.name_en or twin.name_en
                    twin.save(update_fields=["name_en", "updated_at"])
                    _record_imported_region(by=by, unit=acting, region=twin, before=names)
                    report.updated += 1
                    if progress is not None:
                        progress(done)
                    continue
                region = Region.objects.create(name=row.name, name_en=row.name_en, level=row.level, code_scheme=row.code_scheme, code=row.code, parent=parent)
                _place_region(region)
                _record_imported_region(by=by, unit=acting, region=region, before=None)
                if row.code:
                    placed[row.code] = region
                report.created += 1
            if progress is not None:
                progress(done)
        audit.record(
            actor=by,
            action=AuditAction.IMPORT,
            event="org.import_regions",
            object_type=Region._meta.label_lower,
            unit=acting,
            changes={"rows": len(rows), "created": report.created, "updated": report.updated},
        )
    return report


def _record_imported_region(*, by: Any, unit: Unit | None, region: Region, before: dict[str, Any] | None) -> None:
    """One audit entry per region an import created, or whose names it changed."""
    if before is None:
        changes = audit.diff({}, _region_snapshot(region))
    else:
        changes = audit.diff(before, {"name": region.name, "name_en": region.name_en})
        if not changes:
            return
    action = AuditAction.CREATE if before is None else AuditAction.UPDATE
    audit.record(actor=by, action=action, event="org.import_regions", obj=region, unit=unit, changes=changes)


def export_regions(*, by: Any) -> str:
    """The regions the user may see, as CSV in the import format."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGION_CSV_COLUMNS)
    for region in access.visible_regions(by).select_related("parent").order_by("path"):
        writer.writerow([region.code, region.name, region.level, region.parent.code if region.parent else "", region.name_en, region.code_scheme])
    return out.getvalue()


# --- units --------------------------------------------------------------------


def _place_unit(unit: Unit) -> None:
    parent_path = unit.parent.path if unit.parent else "/"
    unit.path = f"{parent_path}{unit.pk}/"
    unit.save(update_fields=["path"])


def _check_unit_placement(*, by: Any, region: Region, parent: Unit | None, unit: Unit | None = None) -> None:
    is_system_admin = access.has_global_role(by, Role.SYSTEM_ADMIN)
    if not access.visible_regions(by).filter(pk=region.pk).exists():
        raise ValidationError({"region": [_("This region is outside your scope.")]})
    if parent is None:
        if not is_system_admin:
            raise ValidationError({"parent": [_("Only a system administrator may create a unit without a parent unit.")]})
        return
    if not access.manageable_units(by).filter(pk=parent.pk).exists():
        raise ValidationError({"parent": [_("This parent unit is outside the units you manage.")]})
    if unit is not None and parent.path.startswith(unit.path):
        raise ValidationError({"parent": [_("A unit cannot be placed under itself or its own sub-units.")]})


def create_unit(*, by: Any, name: str, kind: UnitKind, region: Region, parent: Unit | None, name_en: str = "", duty_phone: str = "") -> Unit:
    """Add a unit in ``region`` under ``parent``: inside the user's subtree unless she is a system administrator."""
    if not access.has_capability(by, Capability.MANAGE_UNITS):
        raise PermissionDenied
    if not name.strip():
        raise ValidationError({"name": [_("A name is required.")]})
    _check_unit_placement(by=by, region=region, parent=parent)
    with transaction.atomic():
        unit = Unit.objects.create(name=name.strip(), name_en=name_en.strip(), kind=kind, region=region, parent=parent, duty_phone=duty_phone.strip())
        _place_unit(unit)
        audit.record(
            actor=by,
            action=AuditAction.CREATE,
            event="org.create_unit",
            obj=unit,
            unit=access.acting_unit(by, unit, capability=Capability.MANAGE_UNITS),
            changes=audit.diff({}, _unit_snapshot(unit)),
        )
    return unit


def update_unit(
    *, by: Any, unit: Unit, name: str, kind: UnitKind, region: Region, parent: Unit | None, name_en: str = "", duty_phone: str = "", is_active: bool = True
) -> Unit:
    """Change a unit the user manages; moving it moves its sub-units."""
    if not access.has_capability(by, Capability.MANAGE_UNITS) or not access.manageable_units(by).filter(pk=unit.pk).exists():
        raise PermissionDenied
    if not name.strip():
        raise ValidationError({"name": [_("A name is required.")]})
    if parent != unit.parent:
        _check_unit_placement(by=by, region=region, parent=parent, unit=unit)
    elif not access.visible_regions(by).filter(pk=region.pk).exists():
        raise ValidationError({"region": [_("This region is outside your scope.")]})
    before = _unit_snapshot(unit)
    with transaction.atomic():
        old_path = unit.path
        unit.name, unit.name_en, unit.kind, unit.region = name.strip(), name_en.strip(), kind, region
        unit.parent, unit.duty_phone, unit.is_active = parent, duty_phone.strip(), is_active
        unit.save()
        _place_unit(unit)
        if old_path != unit.path:
            Unit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).update(path=Concat(Value(unit.path), Substr(F("path"), len(old_path) + 1)))
        audit.record(
            actor=by,
            action=AuditAction.UPDATE,
            event="org.update_unit",
            obj=unit,
            unit=access.acting_unit(by, unit, capability=Capability.MANAGE_UNITS),
            changes=audit.diff(before, _unit_snapshot(unit)),
        )
    return unit


# --- users and roles ------------------------------------------------------------


def grant_role(*, by: Any, user: User, unit: Unit, role: str) -> Membership:
    """Give ``user`` the ``role`` in ``unit``.

    A unit administrator may grant in her unit's subtree only and never the system
    administrator or auditor roles; granting a role already held is refused. The grant
    is audited, and the user finds a message about it in her inbox.
    """
    if role not in Role.values:
        raise ValidationError({"role": [_("Unknown role.")]})
    if Role(role) not in access.grantable_roles(by, unit):
        raise PermissionDenied
    if Membership.objects.active().filter(user=user, unit=unit, role=role).exists():
        raise ValidationError({"role": [_("This user already holds this role in this unit.")]})
    with transaction.atomic():
        membership = Membership.objects.create(user=user, unit=unit, role=role, granted_by=by)
        _record_membership(by=by, membership=membership, action=AuditAction.GRANT, event="org.grant_role")
        if user.pk != by.pk:
            _notify_role_granted(by=by, membership=membership)
    access.forget_grants(user)
    return membership


def _notify_role_granted(*, by: Any, membership: Membership) -> None:
    # notifications sits above org; imported here, in the one place org sends a message.
    from rightscare.notifications.services import queue_message

    queue_message(
        event="org.role_granted",
        to_user=membership.user,
        channel="inbox",
        context={
            "name": membership.user.get_full_name(),
            "role": Role(membership.role).label,
            "unit": membership.unit,
            "granted_by": by.get_full_name(),
        },
    )


def _record_membership(*, by: Any, membership: Membership, action: str, event: str) -> None:
    audit.record(
        actor=by,
        action=action,
        event=event,
        obj=membership,
        unit=access.acting_unit(by, membership.unit, capability=Capability.MANAGE_USERS),
        changes={"user": audit.plain(membership.user), "unit": audit.plain(membership.unit), "role": membership.role},
    )


def revoke_membership(*, by: Any, membership: Membership) -> Membership:
    """End a membership; the row stays as history."""
    if membership.revoked_at is not None:
        raise ValidationError(_("This membership has already been revoked."))
    if Role(membership.role) not in access.grantable_roles(by, membership.unit):
        raise PermissionDenied
    if membership.user_id == by.pk and membership.role == Role.SYSTEM_ADMIN:
        raise ValidationError(_("You cannot revoke your own system administrator role."))
    with transaction.atomic():
        membership.revoked_at = timezone.now()
        membership.revoked_by = by
        membership.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
        _record_membership(by=by, membership=membership, action=AuditAction.REVOKE, event="org.revoke_membership")
    access.forget_grants(membership.user)
    return membership


def create_user(
    *,
    by: Any,
    username: str,
    full_name: str,
    password: str,
    unit: Unit,
    role: str,
    email: str = "",
    phone: str = "",
    id_number: str = "",
    confirm_warnings: bool = False,
) -> User:
    """Create a staff account together with its first membership (so it is never out of everyone's scope).

    ``phone`` and ``id_number`` are optional and checked like :func:`set_user_contact` does,
    before anything is created.
    """
    username = username.strip()
    if role not in Role.values or Role(role) not in access.grantable_roles(by, unit):
        raise PermissionDenied
    errors: dict[str, list[Any]] = {}
    contact = ContactDetails(phone=None, id_number=None)
    try:
        contact = check_contact(phone=phone or None, id_number=id_number or None, confirm_warnings=confirm_warnings)
    except ValidationError as error:
        errors.update(error.error_dict)
    if not username:
        errors["username"] = [_("A username is required.")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This username is taken.")]
    candidate = User(username=username, full_name=full_name.strip(), email=email.strip())
    try:
        validate_password(password, candidate)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        candidate.set_password(password)
        candidate.save()
        audit.record(
            actor=by,
            action=AuditAction.CREATE,
            event="org.create_user",
            obj=candidate,
            unit=access.acting_unit(by, unit, capability=Capability.MANAGE_USERS),
            changes=audit.diff({}, {**_user_snapshot(candidate), "password": candidate.password}, secret=SECRET_USER_FIELDS),
        )
        grant_role(by=by, user=candidate, unit=unit, role=role)
        _store_contact(by=by, user=candidate, contact=contact)
    return candidate


def update_user(*, by: Any, user: User, full_name: str, email: str, is_active: bool) -> User:
    """Change a user's name, e-mail or whether she may log in."""
    if user.pk == by.pk and not is_active:
        raise ValidationError({"is_active": [_("You cannot deactivate your own account.")]})
    if not access.visible_users(by).filter(pk=user.pk).exists():
        raise PermissionDenied
    before = _user_snapshot(user)
    with transaction.atomic():
        user.full_name, user.email, user.is_active = full_name.strip(), email.strip(), is_active
        user.save(update_fields=["full_name", "email", "is_active"])
        audit.record(
            actor=by,
            action=AuditAction.UPDATE,
            event="org.update_user",
            obj=user,
            unit=access.acting_unit(by, user, capability=Capability.MANAGE_USERS),
            changes=audit.diff(before, _user_snapshot(user), secret=SECRET_USER_FIELDS),
        )
    return user


# --- contact details (protected fields) -------------------------------------------------

#: The user's protected fields: encrypted at rest, audited as "changed", never with their values.
CONTACT_FIELDS = frozenset({"phone", "id_number"})

#: The code of a validation error that the operator may overrule by confirming the warning.
NEEDS_CONFIRMATION = "needs_confirmation"


@dataclass(frozen=True)
class ContactDetails:
    """Checked, normalised contact details: None leaves a field as it is, "" removes it."""

    phone: str | None
    id_number: str | None


def check_contact(*, phone: str | None, id_number: str | None, confirm_warnings: bool = False) -> ContactDetails:
    """Normalise and validate a phone number and an ID number as an operator typed them.

    Nothing is saved. Raises ``ValidationError`` keyed by field for every error, and
    for the ID number's warnings (a birth-place code unknown for the birth year)
    unless ``confirm_warnings``: those carry the code :data:`NEEDS_CONFIRMATION`, so
    the page can offer the confirmation. Error messages never repeat the value.
    """
    errors: dict[str, list[ValidationError]] = {}
    new_phone: str | None = None
    new_id_number: str | None = None
    if phone is not None:
        try:
            new_phone = identity.normalise_phone(phone) if phone.strip() else ""
        except ValidationError as error:
            errors["phone"] = error.error_list
    if id_number is not None:
        try:
            checked = identity.check_id_number(id_number) if id_number.strip() else identity.Checked("")
        except ValidationError as error:
            errors["id_number"] = error.error_list
        else:
            new_id_number = checked.value
            if checked.warnings and not confirm_warnings:
                advice = _("If the number on the card is exactly this, confirm it to save it.")
                errors["id_number"] = [ValidationError(f"{warning} {advice}", code=NEEDS_CONFIRMATION) for warning in checked.warnings]
    if errors:
        raise ValidationError(errors)
    return ContactDetails(phone=new_phone, id_number=new_id_number)


def _index_field(name: str) -> BlindIndexField:
    field = User._meta.get_field(name)
    assert isinstance(field, BlindIndexField)
    return field


def _store_contact(*, by: Any, user: User, contact: ContactDetails) -> list[str]:
    """Write the changed contact fields with their blind indexes in one save; audit them as "changed"."""
    before = {name: getattr(user, name) for name in CONTACT_FIELDS}
    changed: list[str] = []
    for name, value in (("phone", contact.phone), ("id_number", contact.id_number)):
        if value is None or value == before[name]:
            continue
        index = _index_field(f"{name}_index")
        setattr(user, name, value)
        # The index is computed from the same normalised value in the same save, so
        # the two can never disagree; an empty value has no index.
        setattr(user, index.attname, index.digest(value))
        changed += [name, index.attname]
    if not changed:
        return []
    user.save(update_fields=changed)
    after = {name: getattr(user, name) for name in CONTACT_FIELDS}
    audit.record(
        actor=by,
        action=AuditAction.UPDATE,
        event="org.set_user_contact",
        obj=user,
        unit=access.acting_unit(by, user, capability=Capability.MANAGE_USERS),
        changes=audit.diff(before, after, secret=CONTACT_FIELDS),
    )
    return changed


def set_user_contact(*, by: Any, user: User, phone: str | None = None, id_number: str | None = None, confirm_warnings: bool = False) -> User:
    """Set a user's phone number and/or ID number: normalised, encrypted, indexed and audited.

    The caller is the user herself or an administrator of her units (else
    ``PermissionDenied``). ``None`` leaves a field as it is and ``""`` removes it.
    Bad input raises ``ValidationError`` by field and changes nothing; an ID number
    with a warning needs ``confirm_warnings`` (see :func:`check_contact`). Setting
    the value already stored changes nothing and records nothing, so a retry is
    harmless. The audit entry says "changed", never the values.
    """
    if user.pk != by.pk and not access.visible_users(by).filter(pk=user.pk).exists():
        raise PermissionDenied
    contact = check_contact(phone=phone, id_number=id_number, confirm_warnings=confirm_warnings)
    with transaction.atomic():
        _store_contact(by=by, user=user, contact=contact)
    return user


def read_user_contact(*, by: Any, user: User, fields: tuple[str, ...]) -> dict[str, str]:
    """The plain values of a user's protected ``fields``, for showing them; the read is audited.

    The caller is the user herself or an administrator of her units (else
    ``PermissionDenied``). One audit entry names the fields that had a value to
    show (none when all are empty); it never holds the values.
    """
    if not set(fields) <= CONTACT_FIELDS:
        raise ValueError(f"not a protected field of a user: {sorted(set(fields) - CONTACT_FIELDS)}")
    if user.pk != by.pk and not access.visible_users(by).filter(pk=user.pk).exists():
        raise PermissionDenied
    values = {name: getattr(user, name) for name in fields}
    shown = tuple(name for name in fields if values[name])
    if shown:
        audit.record_read(actor=by, obj=user, unit=access.acting_unit(by, user, capability=Capability.MANAGE_USERS), fields=shown)
    return values


def set_password(*, by: Any, user: User, password: str) -> User:
    """Set a new password for a user the caller administers (or for herself)."""
    if user.pk != by.pk and not access.visible_users(by).filter(pk=user.pk).exists():
        raise PermissionDenied
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": list(error.messages)}) from error
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            actor=by,
            action=AuditAction.UPDATE,
            event="org.set_password",
            obj=user,
            unit=access.acting_unit(by, user, capability=Capability.MANAGE_USERS),
            changes={"password": audit.CHANGED},
        )
    return user


# --- API tokens -----------------------------------------------------------------

TOKEN_PREFIX = "rc_"


def create_api_token(*, by: Any, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Issue a token for the user's own programs; the plain token is returned once and never stored."""
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("A name is required.")]
    if not 1 <= days <= 366:
        errors["days"] = [_("A token is valid for 1 to 366 days.")]
    if errors:
        raise ValidationError(errors)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=by, name=name.strip()[:100], prefix=plain[:10], digest=token_digest(plain), expires_at=timezone.now() + timedelta(days=days)
        )
        # The token itself and its digest never reach the log; the prefix identifies it.
        audit.record(
            actor=by,
            action=AuditAction.CREATE,
            event="org.create_api_token",
            obj=token,
            unit=access.acting_unit(by),
            changes=audit.diff({}, {"name": token.name, "prefix": token.prefix, "expires_at": token.expires_at}),
        )
    return token, plain


def revoke_api_token(*, by: Any, token: ApiToken) -> ApiToken:
    """Revoke one of the user's tokens at once."""
    if token.user_id != by.pk:
        raise PermissionDenied
    if token.revoked_at is None:
        with transaction.atomic():
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(actor=by, action=AuditAction.REVOKE, event="org.revoke_api_token", obj=token, unit=access.acting_unit(by))
    return token


#: How stale ``last_used_at`` may be before a request writes it again.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def authenticate_api_token(plain: str) -> User | None:
    """The active user a usable token belongs to, or None; notes when it was last used."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    token = ApiToken.objects.usable().select_related("user").filter(digest=token_digest(plain)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- first start ------------------------------------------------------------------


def bootstrap_installation(
    *,
    username: str,
    full_name: str,
    password: str,
    region: Region,
    unit_name: str,
    unit_kind: UnitKind,
    unit_name_en: str = "",
    duty_phone: str = "",
    email: str = "",
) -> tuple[User, Unit]:
    """Create the first unit and its system administrator on an installation that has none.

    Nobody exists yet who could grant the first role, so this is the one place that
    grants without a grantor; once any active system administrator exists it refuses.
    """
    if Membership.objects.active().filter(role=Role.SYSTEM_ADMIN, user__is_active=True).exists():
        raise PermissionDenied
    username = username.strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = [_("A username is required.")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This username is taken.")]
    if not unit_name.strip():
        errors["unit_name"] = [_("A name is required.")]
    admin = User(username=username, full_name=full_name.strip(), email=email.strip())
    try:
        validate_password(password, admin)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        admin.set_password(password)
        admin.save()
        unit = Unit.objects.create(name=unit_name.strip(), name_en=unit_name_en.strip(), kind=unit_kind, region=region, duty_phone=duty_phone.strip())
        _place_unit(unit)
        membership = Membership.objects.create(user=admin, unit=unit, role=Role.SYSTEM_ADMIN, granted_by=None)
        # Nobody acted: the installation was empty. The entries say so by their event.
        audit.record(actor=None, action=AuditAction.CREATE, event="org.bootstrap", obj=unit, unit=unit, changes=audit.diff({}, _unit_snapshot(unit)))
        audit.record(
            actor=None,
            action=AuditAction.CREATE,
            event="org.bootstrap",
            obj=admin,
            unit=unit,
            changes=audit.diff({}, {**_user_snapshot(admin), "password": admin.password}, secret=SECRET_USER_FIELDS),
        )
        audit.record(
            actor=None,
            action=AuditAction.GRANT,
            event="org.bootstrap",
            obj=membership,
            unit=unit,
            changes={"user": audit.plain(admin), "unit": audit.plain(unit), "role": membership.role},
        )
    access.forget_grants(admin)
    return admin, unit


def bootstrap_region(
    *, name: str, level: str, code: str = "", code_scheme: str = CodeScheme.CN_STATS, name_en: str = "", parent: Region | None = None
) -> Region:
    """Create a region before any administrator exists (first start only; see ``bootstrap_installation``)."""
    if Membership.objects.active().filter(role=Role.SYSTEM_ADMIN, user__is_active=True).exists():
        raise PermissionDenied
    name, code = name.strip(), code.strip()
    _check_region(name=name, level=level, code_scheme=code_scheme, code=code, parent=parent)
    with transaction.atomic():
        region = Region.objects.create(name=name, name_en=name_en.strip(), level=level, code_scheme=code_scheme, code=code, parent=parent)
        _place_region(region)
        audit.record(actor=None, action=AuditAction.CREATE, event="org.bootstrap", obj=region, changes=audit.diff({}, _region_snapshot(region)))
    return region
