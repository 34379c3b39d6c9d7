"""Fixtures of the WeChat callback: plain mode with the documented token, the clock at the
documented timestamp, a clean rate-limit cache, and helpers that call the callback as WeChat does."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.core.cache import cache

#: The official encrypted-mode example's token, timestamp and nonce (消息加解密说明), reused for plain mode.
TOKEN = "pamtest"
TIMESTAMP = "1409304348"
NONCE = "xxxxxx"
#: The plain-mode signature of (TOKEN, TIMESTAMP, NONCE), computed once outside the code under test:
#:   printf '%s' 1409304348pamtestxxxxxx | sha1sum
SIGNATURE = "76480565cbe296026c53aaacd1ad523a1ddba24f"
#: ... and with the nonce "yyyyyy": printf '%s' 1409304348pamtestyyyyyy | sha1sum
SIGNATURE_OTHER_NONCE = "f64403300e358060a51a0d4d7672e5e607bb1bac"

URL = "/channels/wechat/"


@pytest.fixture(autouse=True)
def _plain_mode(settings):
    settings.WECHAT_TOKEN = TOKEN
    settings.WECHAT_ENCODING_AES_KEY = ""
    settings.WECHAT_APP_ID = ""
    settings.WECHAT_PUBLIC_SITE_URL = "https://help.example.org"
    settings.WECHAT_REPLY_SIGNATURE = ""
    settings.WECHAT_INTAKE_REGION = "440310000000"  # Pingshan district: the Pingshan federation's queue
    settings.WECHAT_INTAKE_CATEGORY = "other"
    # The documented timestamps are from 2014: the clock check is tested on its own (test_clock_skew_*).
    settings.WECHAT_MAX_CLOCK_SKEW_SECONDS = 0


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def signed_url(*, signature: str = SIGNATURE, timestamp: str = TIMESTAMP, nonce: str = NONCE, **extra: str) -> str:
    return f"{URL}?{urlencode({'signature': signature, 'timestamp': timestamp, 'nonce': nonce, **extra})}"


def _at(seconds: int | None) -> Any:
    return time_machine.travel(seconds, tick=False) if seconds is not None else contextlib.nullcontext()


def deliver(client, xml: str, *, at: int | None = None, **query: str):
    """POST a message as WeChat does (raw XML body, the signature in the query string), the
    server's clock at ``at`` (seconds since 1970) when given."""
    with _at(at):
        return client.post(signed_url(**query), data=xml.encode(), content_type="text/xml")


def verify(client, *, at: int | None = None, **query: str):
    """The address check WeChat makes when the URL is saved (GET with echostr)."""
    with _at(at):
        return client.get(signed_url(**query))
