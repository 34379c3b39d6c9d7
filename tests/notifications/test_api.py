"""The inbox in the API: my messages only, paginated; marking one read."""

from __future__ import annotations

import pytest

from rightscare.notifications import services
from rightscare.notifications.models import Message
from rightscare.org.services import create_api_token

CONTEXT = {"name": "赵女士", "role": "处理人", "unit": "坪山区妇联", "granted_by": "管理员"}

pytestmark = pytest.mark.django_db


def _inbox(user, n: int = 1) -> list[Message]:
    return [services.queue_message(event="org.role_granted", to_user=user, channel="inbox", language="en", context=CONTEXT) for _ in range(n)]


def _auth(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_token(by=user, name='t')[1]}"}


def test_the_inbox_lists_my_messages_unread_first(client, personas, django_assert_num_queries):
    handler = personas["handler"]
    first, second, third = _inbox(handler, 3)
    _inbox(personas["handler_twin"], 2)
    services.mark_read(by=handler, message=first)
    headers = _auth(handler)

    with django_assert_num_queries(4):  # token, user's last use, count, page
        response = client.get("/api/v1/inbox", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [item["id"] for item in body["items"]] == [third.pk, second.pk, first.pk]
    assert body["items"][0]["subject"] == "You have been given the role 处理人 in 坪山区妇联"
    assert body["items"][0]["event"] == "org.role_granted"
    assert body["items"][0]["read_at"] is None
    assert body["items"][2]["read_at"] is not None
    assert set(body["items"][0]) == {"id", "event", "subject", "body", "created_at", "read_at"}


def test_the_inbox_pages_and_filters_unread(client, personas):
    handler = personas["handler"]
    messages = _inbox(handler, 3)
    services.mark_read(by=handler, message=messages[0])
    headers = _auth(handler)

    page = client.get("/api/v1/inbox?limit=1&offset=1", headers=headers).json()
    unread = client.get("/api/v1/inbox?unread=true", headers=headers).json()

    assert (page["count"], [i["id"] for i in page["items"]]) == (3, [messages[1].pk])
    assert (unread["count"], sorted(i["id"] for i in unread["items"])) == (2, [messages[1].pk, messages[2].pk])


def test_marking_my_message_read(client, personas):
    [message] = _inbox(personas["handler"])

    response = client.post(f"/api/v1/inbox/{message.pk}/read", headers=_auth(personas["handler"]))

    assert response.status_code == 200
    message.refresh_from_db()
    assert response.json()["read_at"] is not None
    assert message.read_at is not None


def test_someone_elses_message_is_404_and_stays_unread(client, personas):
    [message] = _inbox(personas["handler"])

    response = client.post(f"/api/v1/inbox/{message.pk}/read", headers=_auth(personas["handler_twin"]))

    assert (response.status_code, response["Content-Type"]) == (404, "application/problem+json")
    assert Message.objects.get(pk=message.pk).read_at is None


def test_the_inbox_needs_authentication(client):
    assert client.get("/api/v1/inbox").status_code == 401
