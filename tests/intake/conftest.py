"""Fixtures of the intake pages: the demo organisation (Shenzhen, the seed's units and the
responsibility list, no played cases) and a way to post the hotline screen."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rightscare.audit.models import AuditEntry
from rightscare.cases.models import Case, CaseEvent, CaseParty, Category, EmergencyHandoff, WorkOrder
from rightscare.intake.models import Contact
from rightscare.org.models import Region, Unit
from rightscare.registry.models import Person, PersonPhone, SafeContact
from tests.cases.conftest import demo_org  # noqa: F401  (the fixture, shared with the case tests)
from tests.conftest import log_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A Wednesday morning, inside working hours (09:00–12:00, 14:00–18:00) and no holiday.
WORKING_MORNING = datetime.datetime(2026, 6, 3, 10, 0, tzinfo=SHANGHAI)
#: A Sunday evening.
SUNDAY_EVENING = datetime.datetime(2026, 6, 7, 21, 0, tzinfo=SHANGHAI)


def category(code: str) -> Category:
    return Category.objects.get(code=code, valid_until__isnull=True)


def region(name: str) -> Region:
    return Region.objects.get(name=name)


def unit_named(name: str) -> Unit:
    return Unit.objects.get(name=name)


def unit_of(user) -> Unit:
    return Unit.objects.get(pk=user.memberships.get().unit_id)


def call_data(**overrides: Any) -> dict[str, Any]:
    """A hotline call as the screen posts it: Zhao's pregnancy discrimination in Pingshan.

    ``None`` drops a field (an unticked box); anything else replaces it.
    """
    data: dict[str, Any] = {
        "idempotency_key": uuid.uuid4().hex,
        "action": "save",
        "channel": "hotline",
        "caller_phone": "138 0013 8021",
        "caller_name": "赵女士",
        "caller_sex": "female",
        "caller_age": "33",
        "request_type": "help",
        "content": "孕期被扣工资、安排出差；哺乳期公司拒绝续签劳动合同。",
        "category": str(category("pregnancy-discrimination").pk),
        "urgency": "normal",
        "region": str(region("坪山街道").pk),
        "address": "坪山街道某工业园",
        "may_call": "on",
        "may_text": "on",
        "reporter_confidential": "on",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def counts() -> dict[str, int]:
    """How many of every record a call may create: a refused save must leave them all as they were."""
    return {
        model.__name__: model.objects.count()
        for model in (Person, PersonPhone, SafeContact, Case, CaseParty, CaseEvent, Contact, WorkOrder, EmergencyHandoff, AuditEntry)
    }


def field_errors(html: str) -> dict[str, list[str]]:
    """The errors shown next to each field (by the field's id), as the page renders them."""
    found = {}
    for match in re.finditer(
        r'<div class="field field--invalid[^"]*">\s*(?:<input[^>]*id="(?P<box>[^"]+)"[^>]*>\s*)?<label for="(?P<id>[^"]+)".*?<ul class="field__errors"[^>]*>(?P<errors>.*?)</ul>',
        html,
        re.S,
    ):
        found[match.group("id")] = [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", match.group("errors"), re.S)]
    return found


@pytest.fixture
def as_user(client):
    """Log the test client in as a user, in English (the assertions read English text)."""

    def _as(user):
        client.logout()
        log_in(client, user)
        client.cookies["rightscare_language"] = "en"
        return client

    return _as
