"""The WeChat template-message sender, against a fake WeChat API: the exact requests wechatpy makes."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from rightscare.notifications.models import Message
from rightscare.notifications.senders import DeliveryError, PermanentDeliveryError
from rightscare.notifications.senders.wechat import SENDER as WECHAT

OPENID = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"
TEMPLATE = "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY"


@pytest.fixture
def wechat(fake_gateway, settings):
    cache.clear()  # no access token left by another test
    settings.WECHAT_APP_ID = "wx1234567890abcdef"
    settings.WECHAT_APP_SECRET = "app-secret"
    settings.WECHAT_API_BASE_URL = f"{fake_gateway.url}/cgi-bin/"
    settings.WECHAT_TEMPLATE_IDS = {"petitioner.registered": TEMPLATE}
    settings.WECHAT_TEMPLATE_FIELDS = ["keyword1", "keyword2"]
    fake_gateway.answer("/cgi-bin/token", (200, {"access_token": "ACCESS-TOKEN-1", "expires_in": 7200}))
    yield fake_gateway
    cache.clear()


def _message(**fields) -> Message:
    values = {
        "key": uuid.uuid4(),
        "event": "petitioner.registered",
        "channel": "wechat",
        "language": "zh-hans",
        "to_address": OPENID,
        "subject": "社区服务：您的诉求已收到",
        "body": "社区服务：您的诉求 SZ-2026-000001 已收到并登记。",
    }
    values.update(fields)
    return Message(**values)


def test_a_template_message_is_sent_to_the_follower_with_a_fetched_token(wechat):
    wechat.answer("/cgi-bin/message/template/send", (200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}))
    WECHAT.deliver(_message())

    token, send = wechat.received
    assert (token.method, token.path, token.query) == (
        "GET",
        "/cgi-bin/token",
        {"grant_type": ["client_credential"], "appid": ["wx1234567890abcdef"], "secret": ["app-secret"]},
    )
    assert (send.method, send.path, send.query) == ("POST", "/cgi-bin/message/template/send", {"access_token": ["ACCESS-TOKEN-1"]})
    assert (
        send.body
        == (
            '{"touser": "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY", '
            '"data": {"keyword1": {"value": "社区服务：您的诉求已收到"}, "keyword2": {"value": "社区服务：您的诉求 SZ-2026-000001 已收到并登记。"}}}'
        ).encode()
    )


def test_the_access_token_is_shared_through_the_cache(wechat):
    wechat.answer("/cgi-bin/message/template/send", (200, {"errcode": 0, "errmsg": "ok"}))
    WECHAT.deliver(_message())
    WECHAT.deliver(_message())
    assert [request.path for request in wechat.received] == ["/cgi-bin/token", "/cgi-bin/message/template/send", "/cgi-bin/message/template/send"]


def test_an_expired_token_is_fetched_again_and_the_message_resent(wechat):
    wechat.answer("/cgi-bin/message/template/send", (200, {"errcode": 42001, "errmsg": "access_token expired"}), (200, {"errcode": 0, "errmsg": "ok"}))
    WECHAT.deliver(_message())
    assert [request.path for request in wechat.received] == [
        "/cgi-bin/token",
        "/cgi-bin/message/template/send",
        "/cgi-bin/token",
        "/cgi-bin/message/template/send",
    ]


def test_someone_who_no_longer_follows_is_not_tried_again(wechat):
    wechat.answer("/cgi-bin/message/template/send", (200, {"errcode": 43004, "errmsg": "require subscribe"}))
    with pytest.raises(PermanentDeliveryError, match="error 43004"):
        WECHAT.deliver(_message())


@pytest.mark.parametrize(("status", "payload"), [(200, {"errcode": 45009, "errmsg": "reach max api daily quota limit"}), (502, {})])
def test_limits_and_server_errors_are_retried(wechat, status, payload):
    wechat.answer("/cgi-bin/message/template/send", (status, payload))
    with pytest.raises(DeliveryError) as raised:
        WECHAT.deliver(_message())
    assert not isinstance(raised.value, PermanentDeliveryError)


def test_an_event_without_a_template_cannot_be_sent(wechat):
    with pytest.raises(PermanentDeliveryError, match=r"no WeChat template for the event petitioner\.rate"):
        WECHAT.deliver(_message(event="petitioner.rate"))
    assert wechat.received == []
    assert (WECHAT.supports("petitioner.registered"), WECHAT.supports("petitioner.rate")) == (True, False)


def test_an_unreachable_api_is_retried(settings):
    cache.clear()
    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx1", "s"
    settings.WECHAT_API_BASE_URL = "http://127.0.0.1:9/cgi-bin/"
    settings.WECHAT_TEMPLATE_IDS = {"petitioner.registered": TEMPLATE}
    with pytest.raises(DeliveryError, match="WeChat unreachable: ConnectionError"):
        WECHAT.deliver(_message())
