"""schemathesis over every operation of the API's own OpenAPI document.

Each operation is called with the token of a persona allowed to call it. Budget:
``EXAMPLES`` generated cases per operation (valid and invalid ones mixed), and as
many valid ones again with the path's ids pinned to records that exist (otherwise
random ids would only ever find 404s).
Every answer must be below 500, every error problem+json, and each operation
must succeed at least once.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from rightscare.api import api
from rightscare.audit.models import AuditEntry
from rightscare.notifications.services import queue_message
from rightscare.org import services
from rightscare.org.calendar_services import ensure_national_calendar
from tests.case_scenarios import build_case_targets, case_operation_body, case_operation_query, case_path_ids
from tests.integrations.helpers import integration_records
from tests.ratings.helpers import ratings_path_ids
from tests.supervision.chasing_helpers import chasing_path_ids
from tests.supervision.safety_helpers import safety_path_ids

#: Generated examples per operation and mode: 30, per the test plan. CI's SQLite pass sets
#: RIGHTSCARE_FUZZ_EXAMPLES lower because its PostgreSQL pass fuzzes every operation with 30.
EXAMPLES = int(os.environ.get("RIGHTSCARE_FUZZ_EXAMPLES", "30"))

SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1"))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

#: Who calls each operation: a persona allowed to (written out, not computed).
CALLER = {
    "GET /api/v1/me": "operator",
    "PATCH /api/v1/me": "operator",
    "GET /api/v1/regions": "dispatcher",
    "GET /api/v1/audit/entries": "auditor",
    "GET /api/v1/audit/entries/{entry_id}": "auditor",
    "GET /api/v1/audit/verify": "auditor",
    "GET /api/v1/regions/{region_id}": "dispatcher",
    "GET /api/v1/regions/{region_id}/deadline": "dispatcher",
    "GET /api/v1/regions/{region_id}/working-time": "dispatcher",
    "GET /api/v1/calendars": "dispatcher",
    "GET /api/v1/calendars/{calendar_id}": "dispatcher",
    "GET /api/v1/units": "dispatcher",
    "GET /api/v1/units/{unit_id}": "dispatcher",
    "GET /api/v1/tokens": "handler",
    "POST /api/v1/tokens": "handler",
    "POST /api/v1/tokens/{token_id}/revoke": "handler",
    "GET /api/v1/inbox": "handler",
    "POST /api/v1/inbox/{message_id}/read": "handler",
    "GET /api/v1/categories": "operator",
    "GET /api/v1/cases": "dispatcher",
    "POST /api/v1/cases": "operator",
    "GET /api/v1/cases/{case_id}": "dispatcher",
    "GET /api/v1/cases/{case_id}/timeline": "handler",
    "GET /api/v1/cases/{case_id}/suggestion": "dispatcher",
    "POST /api/v1/cases/{case_id}/dispatch": "dispatcher",
    "POST /api/v1/cases/{case_id}/answer": "operator",
    "POST /api/v1/cases/{case_id}/decline": "dispatcher",
    "POST /api/v1/cases/{case_id}/close": "dispatcher",
    "POST /api/v1/cases/{case_id}/transfers": "dispatcher",
    "POST /api/v1/transfers/{transfer_id}/decision": "dispatcher_twin",
    "GET /api/v1/work-orders": "handler",
    "GET /api/v1/work-orders/{work_order_id}": "department_handler",
    "POST /api/v1/work-orders/{work_order_id}/sign-for": "handler",
    "POST /api/v1/work-orders/{work_order_id}/return": "handler",
    "POST /api/v1/work-orders/{work_order_id}/return-ruling": "dispatcher",
    "POST /api/v1/work-orders/{work_order_id}/first-contact": "handler",
    "POST /api/v1/work-orders/{work_order_id}/notes": "handler",
    "POST /api/v1/work-orders/{work_order_id}/complete": "handler",
    "POST /api/v1/work-orders/{work_order_id}/review": "dispatcher",
    "POST /api/v1/work-orders/{work_order_id}/forward": "handler",
    "GET /api/v1/contacts": "operator",
    "POST /api/v1/contacts": "operator",
    "POST /api/v1/people": "operator",
    "POST /api/v1/calls": "operator",
    "GET /api/v1/caller-history": "operator",
    "GET /api/v1/supervision/overdue": "supervisor",
    "POST /api/v1/work-orders/{work_order_id}/chases": "supervisor",
    "GET /api/v1/chases": "handler",
    "POST /api/v1/chases/{chase_id}/answer": "handler",
    "GET /api/v1/assessment": "supervisor",
    "GET /api/v1/dashboard": "supervisor",
    "GET /api/v1/safety-follow-ups": "dispatcher",
    "GET /api/v1/cases/{case_id}/safety-follow-ups": "dispatcher",
    "POST /api/v1/cases/{case_id}/safety-follow-ups": "dispatcher",
    "POST /api/v1/safety-follow-ups/{follow_up_id}/reviews": "dispatcher",
    "POST /api/v1/safety-follow-ups/{follow_up_id}/end": "dispatcher",
    "GET /api/v1/webhooks": "system_admin",
    "POST /api/v1/webhooks": "system_admin",
    "GET /api/v1/webhooks/{webhook_id}": "system_admin",
    "PATCH /api/v1/webhooks/{webhook_id}": "system_admin",
    "GET /api/v1/deliveries": "system_admin",
    "POST /api/v1/deliveries/{delivery_id}/retry": "system_admin",
    "GET /api/v1/channel-keys": "system_admin",
    "POST /api/v1/channel-keys": "system_admin",
    "POST /api/v1/channel-keys/{key_id}/revoke": "system_admin",
    "GET /api/v1/clock-policies": "volunteer",
    "POST /api/v1/work-orders/{work_order_id}/pause": "handler",
    "POST /api/v1/work-orders/{work_order_id}/resume": "handler",
    "GET /api/v1/work-orders/{work_order_id}/extensions": "dispatcher",
    "POST /api/v1/work-orders/{work_order_id}/extensions": "handler",
    "POST /api/v1/extensions/{extension_id}/decision": "dispatcher",
    "GET /api/v1/ratings/return-visits": "return_visit",
    "GET /api/v1/ratings/cases/{case_id}": "dispatcher",
    "POST /api/v1/ratings/rounds/{round_id}/calls": "return_visit",
    "POST /api/v1/ratings/cases/{case_id}/rework": "dispatcher",
}

#: Operations on cases, work orders and intake: they act on the records of ``tests/case_scenarios.py``.
CASE_PATHS = (
    "/api/v1/cases",
    "/api/v1/work-orders",
    "/api/v1/transfers",
    "/api/v1/contacts",
    "/api/v1/people",
    "/api/v1/caller-history",
    "/api/v1/extensions",
    "/api/v1/calls",
)


def _send(client: Any, case: Any, token: str) -> Any:
    path = case.formatted_path
    headers = {str(k): str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {token}"
    query = case.query or {}
    if case.method.upper() == "GET":
        return client.get(path, query, headers=headers)
    if isinstance(case.body, (str, bytes)):
        body: Any = case.body
    elif isinstance(case.body, (dict, list, int, float, bool)) or case.body is None:
        body = json.dumps(case.body)
    else:  # schemathesis' NotSet: the operation takes no body
        body = ""
    url = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return client.generic(case.method.upper(), url, body, content_type=case.media_type or "application/json", headers=headers)


def test_every_operation_has_a_caller() -> None:
    assert {op.label for op in OPERATIONS} == set(CALLER)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation_survives_fuzzing(client, org, personas, operation) -> None:
    caller = personas[CALLER[operation.label]]
    token = services.create_api_token(by=caller, name="fuzz")[1]
    own_token = services.create_api_token(by=caller, name="fuzz target")[0]
    real_ids = {"region_id": org.regions["pingshan"].pk, "unit_id": org.units["pingshan_street"].pk, "token_id": own_token.pk}
    real_ids["entry_id"] = AuditEntry.objects.get(event="org.create_api_token", object_id=str(own_token.pk)).pk
    real_ids["calendar_id"] = ensure_national_calendar().pk
    real_ids["message_id"] = queue_message(event="org.role_granted", to_user=caller, channel="inbox", context={"role": "处理人"}).pk
    case_targets = build_case_targets(org, personas) if operation.path.startswith(CASE_PATHS) else {}
    if case_targets:
        real_ids.update(case_path_ids(operation.path, case_targets))
    real_ids.update(chasing_path_ids(operation.path, org, personas))
    real_ids.update(safety_path_ids(operation.path, org, personas))
    real_ids.update(ratings_path_ids(operation.path, org, personas))
    if operation.path.startswith(("/api/v1/webhooks/", "/api/v1/deliveries/")):
        real_ids.update(integration_records(personas))
    if operation.path.startswith("/api/v1/channel-keys/"):
        from rightscare.open311.services import create_channel_key

        real_ids["key_id"] = create_channel_key(by=personas["system_admin"], name="fuzz", channel="app")[0].pk
    statuses: list[int] = []

    def check(case: Any) -> None:
        with transaction.atomic():
            response = _send(client, case, token)
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body, response.content[:500])
            if response.status_code >= 400:
                assert response["Content-Type"] == "application/problem+json", response.content[:200]
            transaction.set_rollback(True)

    fuzz_settings = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))

    generated = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @fuzz_settings
    @given(case=generated)
    def fuzz(case: Any) -> None:
        check(case)

    fuzz()

    pinned = {p.name: real_ids[p.name] for p in operation.path_parameters}

    existing = operation.as_strategy(path_parameters=pinned or None)
    # Bodies and queries that must name real records (a unit of the caller's, a complete
    # phone number) are also sent as written, so that the operation can succeed.
    valid_body = case_operation_body(operation.path, case_targets) if case_targets and operation.method.upper() != "GET" else None
    if operation.label == "POST /api/v1/webhooks":
        # A random string is never an http(s) address.
        valid_body = {"name": "统计平台", "url": "https://hooks.example.org/fuzz", "events": ["case.created"]}
    valid_query = case_operation_query(operation.path, case_targets) if case_targets else {}
    if valid_body is not None or valid_query:
        written = {"body": valid_body} if valid_body is not None else {}
        existing = st.one_of(existing, operation.as_strategy(path_parameters=pinned or None, query=valid_query or None, **written))

    @fuzz_settings
    @given(case=existing)
    def fuzz_existing(case: Any) -> None:
        check(case)

    fuzz_existing()
    assert any(200 <= status < 300 for status in statuses), statuses
