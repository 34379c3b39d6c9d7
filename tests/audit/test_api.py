"""The audit API: search (paginated, same filters as the pages), one entry with its chain status, verification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from rightscare.audit.models import AuditEntry
from rightscare.audit.services import record, seal
from rightscare.org import services
from tests.audit.helpers import execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_headers(personas) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.create_api_token(by=personas['auditor'], name='audit')[1]}"}


def thing(object_id: str, **fields) -> AuditEntry:
    return record(actor=None, action=fields.pop("action", "update"), event="test.write", object_type="test.thing", object_id=object_id, **fields)


def test_lists_entries_newest_first_with_every_field(client, auditor_headers):
    with time_machine.travel(datetime(2026, 5, 1, 2, 0, tzinfo=UTC), tick=False):
        first = thing("1", changes={"name": ["a", "b"]}, reason="因为")
    with time_machine.travel(datetime(2026, 5, 1, 3, 0, tzinfo=UTC), tick=False):
        thing("2")

    response = client.get("/api/v1/audit/entries", {"object_type": "test.thing"}, headers=auditor_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [item["object_id"] for item in body["items"]] == ["2", "1"]
    assert body["items"][1] == {
        "id": first.pk,
        "at": "2026-05-01T02:00:00Z",
        "actor_id": None,
        "actor_label": "",
        "unit_id": None,
        "unit_label": "",
        "action": "update",
        "event": "test.write",
        "object_type": "test.thing",
        "object_id": "1",
        "object_label": "",
        "changes": {"name": ["a", "b"]},
        "reason": "因为",
        "ip_address": "",
        "chain_no": None,
        "entry_hash": "",
        "sealed_at": None,
    }


def test_filters_like_the_page(client, auditor_headers, personas, org):
    record(actor=personas["dispatcher"], unit=org.units["pingshan"], action="read", event="test.write", object_type="test.thing", object_id="1")
    record(actor=personas["operator"], unit=org.units["longhua"], action="update", event="test.write", object_type="test.thing", object_id="2")

    def ids(**params) -> list[str]:
        response = client.get("/api/v1/audit/entries", {"object_type": "test.thing", **params}, headers=auditor_headers)
        assert response.status_code == 200, response.content
        return [item["object_id"] for item in response.json()["items"]]

    assert ids(user="dispatcher") == ["1"]
    assert ids(user=str(personas["operator"].pk)) == ["2"]
    assert ids(unit="龙华") == ["2"]
    assert ids(action="read") == ["1"]
    assert ids(object_id="2") == ["2"]
    assert ids(at_from="2000-01-01T00:00:00Z", at_to="2000-01-02T00:00:00Z") == []


def test_a_date_out_of_range_is_a_422_problem(client, auditor_headers):
    response = client.get("/api/v1/audit/entries", {"at_from": "0001-01-01T00:00:00"}, headers=auditor_headers)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "at_from", "message": "This date is out of range."}]


def test_the_list_does_not_query_per_entry(client, auditor_headers, django_assert_num_queries):
    for i in range(30):
        thing(str(i))
    # Token lookup, last-used stamp, memberships, count, page.
    with django_assert_num_queries(5):
        response = client.get("/api/v1/audit/entries", {"object_type": "test.thing", "limit": 30}, headers=auditor_headers)
    assert len(response.json()["items"]) == 30


def test_one_entry_with_its_chain_status(client, auditor_headers):
    entry = thing("1")
    response = client.get(f"/api/v1/audit/entries/{entry.pk}", headers=auditor_headers)
    assert response.json()["chain"] == {"state": "unsealed", "chain_no": None, "previous_hash": "", "entry_hash": ""}

    seal()
    entry.refresh_from_db()
    response = client.get(f"/api/v1/audit/entries/{entry.pk}", headers=auditor_headers)
    assert response.json()["chain"] == {"state": "intact", "chain_no": entry.chain_no, "previous_hash": entry.previous_hash, "entry_hash": entry.entry_hash}

    execute("UPDATE {table} SET reason = %s WHERE id = %s", ["edited", entry.pk])
    response = client.get(f"/api/v1/audit/entries/{entry.pk}", headers=auditor_headers)
    assert response.json()["chain"]["state"] == "edited"


def test_a_missing_entry_is_a_404_problem(client, auditor_headers):
    response = client.get("/api/v1/audit/entries/999999", headers=auditor_headers)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_verify_reports_the_first_broken_link(client, auditor_headers):
    for i in range(3):
        thing(str(i))
    seal()
    response = client.get("/api/v1/audit/verify", headers=auditor_headers)
    body = response.json()
    assert response.status_code == 200
    head = AuditEntry.objects.get(chain_no=body["head_chain_no"])
    # The auditor's token was created before the things: 4 entries sealed, one anchor.
    assert body == {
        "ok": True,
        "sealed": 4,
        "head_chain_no": 4,
        "head_hash": head.entry_hash,
        "anchors": 1,
        "last_anchor_chain_no": 4,
        "unsealed": 0,
        "first_problem": None,
        "problems": [],
        "warnings": [],
    }

    execute("DELETE FROM {table} WHERE chain_no = 2")
    body = client.get("/api/v1/audit/verify", headers=auditor_headers).json()
    assert body["ok"] is False
    assert body["first_problem"] == {"kind": "missing", "chain_no": 2, "message": "sealed entry 2 is missing: deleted from the database"}


@pytest.mark.parametrize("path", ["/api/v1/audit/entries", "/api/v1/audit/verify"])
def test_system_administrators_are_refused(client, personas, path):
    token = services.create_api_token(by=personas["system_admin"], name="x")[1]
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "You may not do this."
