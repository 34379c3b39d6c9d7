"""How many SQL statements one ``POST /api/v1/calls`` takes, so that it cannot creep back.

Intake throughput is bounded by the CPU a call costs, most of it building and running
statements (bench/results/2026-12-06-intake-statements.md: 41-45 statements a call before,
each check and lookup of ``take_call`` one more query). These tests pin the statements of the
common calls, named one by one on PostgreSQL; on SQLite (case numbers from a locked row, no
savepoints to spare) only the total.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext

from rightscare.audit.models import AuditEntry
from rightscare.cases.models import Case, CaseStatus
from rightscare.core.models import IdempotencyRecord
from rightscare.intake.models import Contact
from tests.api_client import ApiClient
from tests.intake.test_api_calls import zhao_call

pytestmark = pytest.mark.django_db

#: A new caller's call registered as a case (no dispatch), with an ``Idempotency-Key``.
REGISTERED_CALL_POSTGRESQL = [
    "SELECT org_apitoken",  # the token and its user
    "SELECT org_membership",  # her memberships (cached for the request: every later check reads them)
    "SAVEPOINT",  # run_once's transaction (BEGIN outside the test's transaction)
    "INSERT core_idempotencyrecord",  # the key, claimed in the call's transaction (ON CONFLICT DO NOTHING: read only when taken)
    "SELECT org_unit",  # her unit (one of those where she takes calls)
    "SELECT cases_category",
    "SELECT org_region",  # the place, in her scope
    "SAVEPOINT",  # take_call: a refused call leaves nothing behind
    "INSERT registry_person",  # the caller
    "INSERT registry_personphone",
    "INSERT registry_safecontact",
    "SELECT nextval",  # the case number (one statement, no savepoint)
    "INSERT cases_case",
    "INSERT cases_caseparty",  # the caller as petitioner
    "INSERT cases_caseevent",  # registered
    "INSERT intake_contact",
    "INSERT cases_caseevent",  # the contact on the timeline
    "SAVEPOINT",  # the tracking code: a clash of codes is caught and another one drawn
    "INSERT petitioners_trackingcode",
    "RELEASE SAVEPOINT",
    "INSERT audit_auditentry",  # the person's, the case's and the contact's entries (and the answer's) in one: audit.services.batched
    "RELEASE SAVEPOINT",
    "UPDATE core_idempotencyrecord",  # the key's result
    "RELEASE SAVEPOINT",  # COMMIT outside the test's transaction
    # The answer is built from what was saved: nothing is read back.
]

_TRACKED = REGISTERED_CALL_POSTGRESQL.index("INSERT petitioners_trackingcode") + 2

#: The same call answered on the spot (a consultation, ``action`` answer): the case is
#: locked and closed in answer_directly's own savepoint (it may find the case dispatched).
#: Its audit entry waits with the others (dropped, were that savepoint rolled back alone).
ANSWERED_CALL_POSTGRESQL = [
    *REGISTERED_CALL_POSTGRESQL[:_TRACKED],
    "SAVEPOINT",
    "SELECT cases_case",  # FOR UPDATE
    "UPDATE cases_case",
    "INSERT cases_caseevent",  # answered
    "RELEASE SAVEPOINT",
    *REGISTERED_CALL_POSTGRESQL[_TRACKED:],
]

#: SQLite numbers cases from a row (savepoint, select for update, update, read, release)
#: instead of ``nextval``: the rest is the same.
SQLITE_NUMBERING = 5


def _shape(sql: str) -> str:
    """``SELECT "org_unit"."id", … FROM "org_unit" …`` → ``SELECT org_unit``; savepoints and the rest by their verb."""
    sql = sql.strip()
    if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")):
        return re.sub(r' "[^"]*"$', "", sql)
    if "nextval" in sql:
        return "SELECT nextval"
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE) "([a-z0-9_]+)"', sql)
    return f"{verb} {table.group(1) if table else '?'}"


def _call(api: ApiClient, body: dict[str, Any], key: str) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/calls", body, headers={"Idempotency-Key": key})
    return response, [_shape(query["sql"]) for query in captured.captured_queries]


@pytest.fixture
def operator_api(client, demo_org):
    api = ApiClient(client, demo_org["hotline"])
    # The first request of a new token notes when it was used (then at most once a minute).
    assert api.post("/calls", zhao_call(demo_org["hotline"], caller_phone="138 0013 8000"), headers={"Idempotency-Key": "warm-up"}).status_code == 201
    return api


def _expected(statements: list[str]) -> list[str] | int:
    if connection.vendor == "postgresql":
        return statements
    # SQLite: the numbering's statements instead of nextval.
    return len(statements) - 1 + SQLITE_NUMBERING


def _actual(statements: list[str]) -> list[str] | int:
    return statements if connection.vendor == "postgresql" else len(statements)


def test_a_new_callers_registered_call_takes_these_statements(operator_api, demo_org):
    body = zhao_call(demo_org["hotline"], caller_phone="138 0013 8099", new_caller={"name": "钱女士", "sex": "female", "approximate_age": 30})

    response, statements = _call(operator_api, body, "call-1")

    assert response.status_code == 201, response.content
    assert _actual(statements) == _expected(REGISTERED_CALL_POSTGRESQL)
    case = Case.objects.get(pk=response.json()["case"]["id"])
    assert response.json()["case"]["number"] == case.number and response.json()["contact"]["case_id"] == case.pk


def test_a_call_answered_on_the_spot_takes_these_statements(operator_api, demo_org):
    body = zhao_call(
        demo_org["hotline"],
        caller_phone="138 0013 8098",
        new_caller={"name": "孙女士", "sex": "female"},
        request_type="consultation",
        action="answer",
        reply="已告知维权途径。",
    )

    response, statements = _call(operator_api, body, "call-2")

    assert response.status_code == 201, response.content
    assert _actual(statements) == _expected(ANSWERED_CALL_POSTGRESQL)
    assert response.json()["case"]["status"] == CaseStatus.ANSWERED == Case.objects.get(pk=response.json()["case"]["id"]).status


def test_the_answer_built_from_the_saved_call_is_the_answer_read_back(operator_api, demo_org):
    """The first answer (from the objects in hand) and a retry's (read from the database) are the same."""
    for number, changes in enumerate(
        (
            {"new_caller": {"name": "周女士", "sex": "female", "approximate_age": 41}, "location_confidential": True, "address": " 坪山某小区 "},
            {"request_type": "consultation", "action": "answer", "reply": " 已答复。 "},
        )
    ):
        body = zhao_call(demo_org["hotline"], caller_phone=f"138 0013 81{number:02d}", **changes)
        first = operator_api.post("/calls", body, headers={"Idempotency-Key": f"same-{number}"})
        again = operator_api.post("/calls", body, headers={"Idempotency-Key": f"same-{number}"})

        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json()
    assert IdempotencyRecord.objects.filter(key__startswith="same-").count() == 2


def test_a_calls_audit_entries_are_written_together_in_the_order_of_its_steps(operator_api, demo_org):
    """The entries that wait for the end of ``take_call`` (``audit.services.batched``) are those it recorded, in order."""
    before = AuditEntry.objects.aggregate(last=Max("id"))["last"] or 0
    body = zhao_call(
        demo_org["hotline"],
        caller_phone="138 0013 8097",
        new_caller={"name": "吴女士", "sex": "female"},
        request_type="consultation",
        action="answer",
        reply="已告知维权途径。",
    )

    response = operator_api.post("/calls", body, headers={"Idempotency-Key": "call-audit"})

    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["case"]["id"])
    contact = Contact.objects.get(pk=response.json()["contact"]["id"])
    entries = list(AuditEntry.objects.filter(id__gt=before).order_by("id").values_list("event", "object_type", "object_id", "actor_id"))
    assert entries == [
        ("registry.record_person", "registry.person", str(case.petitioner_id), demo_org["hotline"].pk),
        ("cases.register_case", "cases.case", str(case.pk), demo_org["hotline"].pk),
        ("intake.record_contact", "intake.contact", str(contact.pk), demo_org["hotline"].pk),
        ("cases.answer_directly", "cases.case", str(case.pk), demo_org["hotline"].pk),
    ]
