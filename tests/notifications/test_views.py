"""The inbox page and its badge, the failed-messages page and the message template pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rightscare.audit.models import AuditEntry
from rightscare.notifications import services
from rightscare.notifications.models import Message, MessageTemplate

CONTEXT = {"name": "赵女士", "role": "处理人", "unit": "坪山区妇联", "granted_by": "管理员"}

pytestmark = pytest.mark.django_db


def _inbox(user, subject: str) -> Message:
    message = services.queue_message(event="org.role_granted", to_user=user, channel="inbox", language="en", context=CONTEXT)
    Message.objects.filter(pk=message.pk).update(subject=subject)
    return message


def _subjects(html: str) -> list[str]:
    return [" ".join(s.split()) for s in re.findall(r'<li class="inbox__message[^"]*">\s*<h3>(.*?)</h3>', html, flags=re.S)]


# --- the inbox ---------------------------------------------------------------------------------------


def test_the_inbox_lists_my_messages_unread_first(client, login, personas):
    handler = personas["handler"]
    old = _inbox(handler, "first")
    _inbox(handler, "second")
    _inbox(personas["handler_twin"], "not mine")
    services.mark_read(by=handler, message=old)
    login(handler)

    response = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    assert [re.sub(r"<[^>]+>", "", s).strip() for s in _subjects(html)] == ["New second", "first"]
    assert "not mine" not in html


def test_marking_a_message_read_and_all_read(client, login, personas):
    handler = personas["handler"]
    first, second = _inbox(handler, "a"), _inbox(handler, "b")
    login(handler)

    assert client.post(f"/inbox/{first.pk}/read/").status_code == 302
    first.refresh_from_db()
    assert first.read_at is not None
    assert Message.objects.get(pk=second.pk).read_at is None

    assert client.post("/inbox/read-all/").status_code == 302
    assert Message.objects.filter(to_user=handler, read_at__isnull=True).count() == 0


def test_someone_elses_message_is_not_found_and_stays_unread(client, login, personas):
    message = _inbox(personas["handler"], "private")
    login(personas["handler_twin"])

    assert client.post(f"/inbox/{message.pk}/read/").status_code == 404
    assert client.post("/inbox/999999999/read/").status_code == 404
    assert Message.objects.get(pk=message.pk).read_at is None


def test_reading_is_post_only(client, login, personas):
    message = _inbox(personas["handler"], "x")
    login(personas["handler"])
    assert client.get(f"/inbox/{message.pk}/read/").status_code == 405
    assert Message.objects.get(pk=message.pk).read_at is None


def test_the_navigation_shows_the_unread_count_with_one_count_query(client, login, personas):
    handler = personas["handler"]
    for n in range(3):
        _inbox(handler, f"m{n}")
    login(handler)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert re.search(r'href="/inbox/"[^>]*>Inbox <span class="badge badge--ok">3<span class="visually-hidden"> unread</span>', html)
    counts = [q["sql"] for q in queries.captured_queries if "notifications_message" in q["sql"]]
    assert len(counts) == 1
    assert "COUNT(" in counts[0]


def test_no_badge_without_unread_messages(client, login, personas):
    login(personas["handler"])
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r'href="/inbox/"[^>]*>Inbox</a>', html)


def test_the_inbox_is_for_signed_in_users_only(client):
    response = client.get("/inbox/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/inbox/")


# --- failed messages ------------------------------------------------------------------------------------


def _failed(address: str = "13800138000") -> Message:
    message = services.queue_message(event="org.role_granted", to_address=address, channel="console", language="en", context=CONTEXT)
    Message.objects.filter(pk=message.pk).update(
        status="failed", attempts=8, last_error="DeliveryError: gateway down", next_attempt_at=datetime(2026, 3, 9, tzinfo=UTC)
    )
    return message


def test_administrators_see_failed_messages_with_masked_addresses(client, login, personas):
    _failed()
    services.queue_message(event="org.role_granted", to_address="ok@example.org", channel="console", language="en", context=CONTEXT)
    login(personas["system_admin"])

    response = client.get("/notifications/failed/", HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert response.status_code == 200
    assert "1 failed message" in html
    assert "*******8000" in html
    assert "13800138000" not in html
    assert "ok@example.org" not in html
    assert "DeliveryError: gateway down" in html


@pytest.mark.parametrize("persona", ["unit_admin", "auditor", "handler"])
def test_others_may_not_see_failed_messages(client, login, personas, persona):
    _failed()
    login(personas[persona])
    assert client.get("/notifications/failed/").status_code == 403


def test_an_administrator_sends_a_failed_message_again(client, login, personas):
    message = _failed()
    login(personas["system_admin"])

    response = client.post(f"/notifications/messages/{message.pk}/retry/")

    assert (response.status_code, response["Location"]) == (302, "/notifications/failed/")
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 0)


def test_a_message_that_did_not_fail_is_not_found_for_retry(client, login, personas):
    message = services.queue_message(event="org.role_granted", to_address="x@example.org", channel="console", context=CONTEXT)
    login(personas["system_admin"])
    assert client.post(f"/notifications/messages/{message.pk}/retry/").status_code == 404
    assert Message.objects.get(pk=message.pk).status == "pending"


def test_a_non_administrator_cannot_retry(client, login, personas):
    message = _failed()
    login(personas["unit_admin"])
    assert client.post(f"/notifications/messages/{message.pk}/retry/").status_code == 403
    assert Message.objects.get(pk=message.pk).status == "failed"


# --- message templates -------------------------------------------------------------------------------------


def test_the_template_list_shows_the_built_in_wording_and_values(client, login, personas):
    login(personas["system_admin"])
    html = client.get("/notifications/templates/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "org.role_granted" in html
    assert "You have been given the role {{ role }} in {{ unit }}" in html
    assert "{{ granted_by }}" in html


def test_an_administrator_creates_edits_and_removes_a_template(client, login, personas):
    login(personas["system_admin"])
    form = client.get("/notifications/templates/new/?event=org.role_granted", HTTP_ACCEPT_LANGUAGE="en")
    assert form.status_code == 200
    assert "You have been given the role {{ role }} in {{ unit }}" in form.content.decode()

    data = {"event": "org.role_granted", "channel": "", "language": "zh-hans", "subject": "您获得了{{ role }}角色", "body": "{{ name }}您好"}
    response = client.post("/notifications/templates/new/", data)
    assert (response.status_code, response["Location"]) == (302, "/notifications/templates/")
    template = MessageTemplate.objects.get()
    assert (template.language, template.subject, template.updated_by_id) == ("zh-hans", "您获得了{{ role }}角色", personas["system_admin"].pk)

    response = client.post(f"/notifications/templates/{template.pk}/", {**data, "channel": "email", "subject": "新"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.channel, template.subject) == ("email", "新")

    assert client.post(f"/notifications/templates/{template.pk}/delete/").status_code == 302
    assert MessageTemplate.objects.count() == 0
    assert list(AuditEntry.objects.filter(event__startswith="notifications.").order_by("id").values_list("event", "action")) == [
        ("notifications.save_template", "create"),
        ("notifications.save_template", "update"),
        ("notifications.delete_template", "delete"),
    ]


def test_a_template_outside_the_sandbox_is_shown_with_its_error(client, login, personas):
    login(personas["system_admin"])
    data = {"event": "org.role_granted", "channel": "", "language": "en", "subject": "x", "body": "{% load static %}"}

    response = client.post("/notifications/templates/new/", data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 422
    assert "The template cannot be used" in response.content.decode()
    assert MessageTemplate.objects.count() == 0


@pytest.mark.parametrize("url", ["/notifications/templates/", "/notifications/templates/new/"])
def test_template_pages_are_for_system_administrators(client, login, personas, url):
    login(personas["unit_admin"])
    assert client.get(url).status_code == 403
