"""Rate limits for the public pages, kept in Django's cache (no third-party service).

Fixed windows: each (rule, key) counts hits in the current window of the rule's length
and refuses once the count passes the rule's limit. The keys (an IP address, a phone
number, a tracking code as typed) are never stored as they are: only a keyed hash of
them names the cache entry. With the default per-process cache each web process counts
on its own; configure ``REDIS_URL`` so that every process shares the counters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` hits per ``window`` seconds."""

    name: str
    limit: int
    window: int


def _rule(name: str, default: tuple[int, int]) -> Rule:
    limit, window = getattr(settings, "PUBLIC_RATE_LIMITS", {}).get(name, default)
    return Rule(name=name, limit=int(limit), window=int(window))


def submission_per_ip() -> Rule:
    return _rule("submit_ip", (10, 3600))


def submission_per_phone() -> Rule:
    return _rule("submit_phone", (3, 86400))


def tracking_per_ip() -> Rule:
    """Lookups of any kind from one address (a code alone, or a code and a PIN)."""
    return _rule("track_ip", (30, 600))


def wrong_per_ip() -> Rule:
    """Wrong attempts (unknown codes, wrong PINs) from one address."""
    return _rule("track_wrong_ip", (10, 3600))


def wrong_per_code() -> Rule:
    """Wrong PINs for one code as typed, whether such a code exists or not."""
    return _rule("track_wrong_code", (5, 3600))


def _cache_key(rule: Rule, key: str) -> str:
    bucket = int(time.time()) // rule.window
    hashed = salted_hmac("rightscare.petitioners.ratelimit", f"{rule.name}\x00{key}").hexdigest()[:32]
    return f"rl:{rule.name}:{bucket}:{hashed}"


def count(rule: Rule, key: str) -> int:
    """Hits counted for ``key`` in the current window."""
    return int(cache.get(_cache_key(rule, key), 0))


def exceeded(rule: Rule, key: str) -> bool:
    """Whether ``key`` has used up the rule's allowance (without counting a hit)."""
    return bool(key) and count(rule, key) >= rule.limit


def hit(rule: Rule, key: str) -> bool:
    """Count one hit for ``key``; whether it is still within the limit."""
    if not key:
        return True
    cache_key = _cache_key(rule, key)
    if cache.add(cache_key, 1, timeout=rule.window + 1):
        return rule.limit >= 1
    try:
        value = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=rule.window + 1)
        value = 1
    return value <= rule.limit


def client_ip(request: object) -> str:
    """The address a request came from (``REMOTE_ADDR``; set it from the proxy's header in the
    web server, never from a header the client may write)."""
    return str(getattr(request, "META", {}).get("REMOTE_ADDR", "") or "unknown")
