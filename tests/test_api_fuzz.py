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
from typing import Any

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from rightscare.api import api
from rightscare.org import services

#: Generated examples per operation and mode (written down, per the test plan).
EXAMPLES = 30

SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1"))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

#: Who calls each operation: a persona allowed to (written out, not computed).
CALLER = {
    "GET /api/v1/me": "operator",
    "GET /api/v1/regions": "dispatcher",
    "GET /api/v1/regions/{region_id}": "dispatcher",
    "GET /api/v1/units": "dispatcher",
    "GET /api/v1/units/{unit_id}": "dispatcher",
    "GET /api/v1/tokens": "handler",
    "POST /api/v1/tokens": "handler",
    "POST /api/v1/tokens/{token_id}/revoke": "handler",
}


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

    @fuzz_settings
    @given(case=operation.as_strategy(path_parameters=pinned or None))
    def fuzz_existing(case: Any) -> None:
        check(case)

    fuzz_existing()
    assert any(200 <= status < 300 for status in statuses), statuses
