"""Roles and what each may do: the one place where capabilities are defined.

A membership grants one role in one unit. What the role covers (which records)
is decided by :mod:`rightscare.org.access`; what it may *do* is listed here.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    INTAKE_OPERATOR = "intake_operator", _("Intake operator")
    DISPATCHER = "dispatcher", _("Dispatcher")
    HANDLER = "handler", _("Handler")
    COMMUNITY_WORKER = "community_worker", _("Community worker")
    VOLUNTEER = "volunteer", _("Volunteer")
    RETURN_VISIT_OFFICER = "return_visit_officer", _("Return-visit officer")
    SUPERVISOR = "supervisor", _("Supervisor")
    UNIT_ADMIN = "unit_admin", _("Unit administrator")
    SYSTEM_ADMIN = "system_admin", _("System administrator")
    AUDITOR = "auditor", _("Auditor")


class Capability(models.TextChoices):
    VIEW_ORGANISATION = "view_organisation", _("See regions and units in scope")
    RECORD_CONTACTS = "record_contacts", _("Record calls and walk-ins")
    DISPATCH_CASES = "dispatch_cases", _("Dispatch cases to responsible units")
    HANDLE_WORK_ORDERS = "handle_work_orders", _("Sign for and handle work orders")
    KEEP_HOUSEHOLD_FILES = "keep_household_files", _("Keep household files")
    RECORD_VISITS = "record_visits", _("Record visits to paired people")
    TAKE_RATINGS = "take_ratings", _("Call petitioners back and take ratings")
    SUPERVISE = "supervise", _("Read and supervise work in scope")
    MANAGE_USERS = "manage_users", _("Manage users and grant roles")
    MANAGE_UNITS = "manage_units", _("Manage units")
    MANAGE_REGIONS = "manage_regions", _("Manage regions")
    MANAGE_CALENDARS = "manage_calendars", _("Manage working calendars")
    MANAGE_RESPONSIBILITY_LIST = "manage_responsibility_list", _("Manage the responsibility list and the categories")
    READ_AUDIT_LOG = "read_audit_log", _("Read the audit log")


C = Capability

CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.INTAKE_OPERATOR: frozenset({C.VIEW_ORGANISATION, C.RECORD_CONTACTS}),
    Role.DISPATCHER: frozenset({C.VIEW_ORGANISATION, C.RECORD_CONTACTS, C.DISPATCH_CASES}),
    Role.HANDLER: frozenset({C.VIEW_ORGANISATION, C.HANDLE_WORK_ORDERS}),
    Role.COMMUNITY_WORKER: frozenset({C.VIEW_ORGANISATION, C.KEEP_HOUSEHOLD_FILES}),
    # A volunteer sees only the people she is paired with, not the organisation.
    Role.VOLUNTEER: frozenset({C.RECORD_VISITS}),
    Role.RETURN_VISIT_OFFICER: frozenset({C.VIEW_ORGANISATION, C.TAKE_RATINGS}),
    Role.SUPERVISOR: frozenset({C.VIEW_ORGANISATION, C.SUPERVISE}),
    Role.UNIT_ADMIN: frozenset({C.VIEW_ORGANISATION, C.MANAGE_USERS, C.MANAGE_UNITS}),
    Role.SYSTEM_ADMIN: frozenset({C.VIEW_ORGANISATION, C.MANAGE_USERS, C.MANAGE_UNITS, C.MANAGE_REGIONS, C.MANAGE_CALENDARS, C.MANAGE_RESPONSIBILITY_LIST}),
    Role.AUDITOR: frozenset({C.VIEW_ORGANISATION, C.READ_AUDIT_LOG}),
}

#: Roles whose reach is the whole installation, not one unit's subtree.
GLOBAL_ROLES: frozenset[Role] = frozenset({Role.SYSTEM_ADMIN, Role.AUDITOR})

#: Roles only a system administrator may grant.
RESERVED_ROLES: frozenset[Role] = frozenset({Role.SYSTEM_ADMIN, Role.AUDITOR})
