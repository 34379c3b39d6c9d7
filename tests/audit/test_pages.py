"""The auditors' pages: search, entry detail with its seal, CSV export (itself audited, safe against formulas)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.audit.services import record, seal
from tests.audit.helpers import execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(personas, login):
    login(personas["auditor"])
    return personas["auditor"]


def rows(response) -> list[str]:
    """The object ids shown in the results table, in order."""
    return re.findall(r'<span class="muted small mono">test\.thing:(\w+)</span>', response.content.decode())


def entry(object_id: str, *, actor=None, unit=None, action: str = "update", at: datetime | None = None, **fields) -> AuditEntry:
    if at is None:
        return record(actor=actor, unit=unit, action=action, event="test.write", object_type="test.thing", object_id=object_id, **fields)
    with time_machine.travel(at, tick=False):
        return record(actor=actor, unit=unit, action=action, event="test.write", object_type="test.thing", object_id=object_id, **fields)


@pytest.mark.parametrize("persona", ["system_admin", "unit_admin", "supervisor", "operator"])
def test_only_auditors_may_read_the_log(client, personas, login, persona):
    login(personas[persona])
    entry("a")
    for name, args in (("audit_list", []), ("audit_detail", [AuditEntry.objects.get(object_id="a").pk]), ("audit_export", [])):
        assert client.get(reverse(name, args=args)).status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORT).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("audit_list"))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/audit/"


def test_nav_links_to_the_log_for_auditors_only(client, personas, login):
    login(personas["auditor"])
    assert 'href="/audit/"' in client.get("/").content.decode()
    login(personas["system_admin"])
    assert 'href="/audit/"' not in client.get("/").content.decode()


def test_filters_by_user_unit_object_action_and_time(client, auditor, personas, org):
    pingshan, longhua = org.units["pingshan"], org.units["longhua"]
    dispatcher = personas["dispatcher"]
    entry("1", actor=dispatcher, unit=pingshan, at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    entry("2", actor=personas["dispatcher_twin"], unit=longhua, at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    entry("3", actor=dispatcher, unit=longhua, action="read", at=datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
    entry("4", actor=dispatcher, unit=pingshan, at=datetime(2026, 3, 3, 1, 30, 59, tzinfo=UTC))
    url = reverse("audit_list")

    assert rows(client.get(url, {"object_type": "test.thing"})) == ["4", "3", "2", "1"]
    assert rows(client.get(url, {"object_type": "test.thing", "user": str(dispatcher.pk)})) == ["4", "3", "1"]
    assert rows(client.get(url, {"object_type": "test.thing", "user": "twin"})) == ["2"]
    assert rows(client.get(url, {"object_type": "test.thing", "unit": str(longhua.pk)})) == ["3", "2"]
    assert rows(client.get(url, {"object_type": "test.thing", "unit": "坪山"})) == ["4", "1"]
    assert rows(client.get(url, {"object_type": "test.thing", "object_id": "2"})) == ["2"]
    assert rows(client.get(url, {"object_type": "test.thing", "action": "read"})) == ["3"]
    # Beijing time: 2026-03-02 09:00 to 2026-03-03 09:30 (the "to" minute included).
    assert rows(client.get(url, {"object_type": "test.thing", "at_from": "2026-03-02T09:00", "at_to": "2026-03-03T09:30"})) == ["4", "3", "2"]


def test_a_bad_date_is_shown_and_ignored(client, auditor):
    entry("1")
    response = client.get(reverse("audit_list"), {"object_type": "test.thing", "at_from": "yesterday"})
    assert response.status_code == 200
    assert rows(response) == ["1"]
    assert 'class="field__errors"' in response.content.decode()


def test_the_search_answers_htmx_with_the_results_only(client, auditor):
    entry("1")
    response = client.get(reverse("audit_list"), {"object_type": "test.thing"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<table" in html
    assert rows(response) == ["1"]
    assert 'href="/audit/export.csv?object_type=test.thing"' in html


def test_the_list_costs_the_same_queries_for_many_entries(client, auditor, django_assert_num_queries):
    for i in range(60):
        entry(str(i))
    url = reverse("audit_list")
    client.get(url)  # warm the session
    # Session, user, two OTP device kinds, memberships (capabilities, cached for the nav), the inbox badge,
    # the count, the page of entries, and the session's save (savepoint, update, release): none per entry.
    with django_assert_num_queries(11):
        response = client.get(url, {"object_type": "test.thing"})
    assert len(rows(response)) == 50
    with django_assert_num_queries(11):
        response = client.get(url, {"object_type": "test.thing", "page": "2"})
    assert len(rows(response)) == 10


def test_detail_shows_changes_without_protected_values_and_the_seal(client, auditor, personas):
    written = entry("9", actor=personas["unit_admin"], changes={"full_name": ["旧名", "新名"], "phone": "changed"})
    seal()
    response = client.get(reverse("audit_detail", args=[written.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    # The protected field's row spans both columns with a badge: no value to show.
    assert re.search(r'<th scope="row" class="mono">phone</th>\s*<td colspan="2"><span class="badge badge--muted">', html)
    assert re.search(r'<th scope="row" class="mono">full_name</th>\s*<td>旧名</td>\s*<td>新名</td>', html)
    assert 'class="badge badge--ok"' in html
    written.refresh_from_db()
    assert written.entry_hash in html


def test_detail_shows_an_edited_entry(client, auditor):
    written = entry("9")
    seal()
    execute("UPDATE {table} SET object_label = %s WHERE id = %s", ["forged", written.pk])
    response = client.get(reverse("audit_detail", args=[written.pk]))
    assert 'class="notice notice--error" role="alert"' in response.content.decode()


def test_detail_of_a_missing_entry_is_404(client, auditor):
    assert client.get(reverse("audit_detail", args=[999999])).status_code == 404


def test_export_is_csv_of_the_filter_neutralises_formulas_and_is_audited(client, auditor, personas, org):
    entry("1", actor=personas["operator"], object_label='=HYPERLINK("http://evil")', reason="+cmd", changes={"x": ["-1", "@a"]})
    entry("2", actor=personas["operator"])
    entry("3", action="read")

    response = client.get(reverse("audit_export"), {"object_type": "test.thing", "action": "update"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="audit-log-\d{8}-\d{4}\.csv"', response["Content-Disposition"])
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == [
        "id", "at", "actor_id", "actor", "unit_id", "unit", "action", "event", "object_type", "object_id", "object", "changes", "reason", "ip_address",
        "chain_no", "entry_hash",
    ]  # fmt: skip
    assert [row[9] for row in table[1:]] == ["2", "1"]
    first = table[2]
    assert first[3] == "operator (operator)"
    assert first[10] == '\'=HYPERLINK("http://evil")'
    assert first[12] == "'+cmd"
    assert first[11] == '{"x":["-1","@a"]}'

    exported = AuditEntry.objects.get(action=AuditAction.EXPORT)
    assert (exported.actor_id, exported.event, exported.object_type, exported.unit_id) == (auditor.pk, "audit.export", "audit.auditentry", org.units["city"].pk)
    assert exported.changes == {"filters": {"object_type": "test.thing", "action": "update"}, "rows": 2}
    assert exported.ip_address == "127.0.0.1"
