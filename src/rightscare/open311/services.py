"""Channel keys: issue (shown once), revoke, authenticate, and count each key's requests.

Keys are for the backends of the mini-program, the app and other Open311 clients. They are
managed by system administrators; every issue and revocation is audited. A key is checked
like a staff API token: a keyed SHA-256 digest (``org.models.token_digest``) looked up in
one indexed query, so the key itself never reaches the database or the log.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.open311.models import KEY_CHANNELS, ChannelKey
from rightscare.org import access
from rightscare.org.models import token_digest
from rightscare.org.roles import Role
from rightscare.petitioners import ratelimit

#: Every channel key starts with this, so that a leaked one is recognised (secret scanners).
KEY_PREFIX = "o311_"
#: How stale ``last_used_at`` may be before a request writes it again.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: The fewest and most requests per hour a key may be allowed.
RATE_LIMIT_RANGE = (1, 100_000)


def may_manage_channel_keys(user: Any) -> bool:
    """System administrators issue and revoke channel keys."""
    return bool(getattr(user, "is_authenticated", False)) and access.has_global_role(user, Role.SYSTEM_ADMIN)


def _require_manager(by: Any) -> None:
    if not may_manage_channel_keys(by):
        raise PermissionDenied


def create_channel_key(*, by: Any, name: str, channel: str, trusted: bool = False, rate_limit: int | None = None) -> tuple[ChannelKey, str]:
    """Issue a key for a channel's backend; the plain key is returned once and never stored.

    ``trusted``: its submissions become cases at once (through the service account
    ``RIGHTSCARE_PUBLIC_INTAKE_USER``). ``rate_limit``: requests per hour. Audited.
    Raises ``PermissionDenied`` unless ``by`` is a system administrator, ``ValidationError``
    naming ``name``, ``channel`` or ``rate_limit``.
    """
    _require_manager(by)
    from rightscare.open311.models import DEFAULT_RATE_LIMIT

    limit = DEFAULT_RATE_LIMIT if rate_limit is None else rate_limit
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("A name is required.")]
    elif len(name.strip()) > 100:
        errors["name"] = [_("The name is too long.")]
    if channel not in {c.value for c in KEY_CHANNELS}:
        errors["channel"] = [_("Choose one of the channels listed.")]
    if not RATE_LIMIT_RANGE[0] <= limit <= RATE_LIMIT_RANGE[1]:
        errors["rate_limit"] = [_("Allow between 1 and 100000 requests per hour.")]
    if errors:
        raise ValidationError(errors)
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ChannelKey.objects.create(
            name=name.strip(), channel=channel, trusted=trusted, rate_limit=limit, prefix=plain[:12], digest=token_digest(plain), created_by=by
        )
        # The key itself and its digest never reach the log; the prefix identifies it.
        audit.record(
            actor=by,
            action=AuditAction.CREATE,
            event="open311.create_channel_key",
            obj=key,
            unit=access.acting_unit(by),
            changes=audit.diff({}, {"name": key.name, "channel": key.channel, "trusted": key.trusted, "rate_limit": key.rate_limit, "prefix": key.prefix}),
        )
    return key, plain


def revoke_channel_key(*, by: Any, key: ChannelKey) -> ChannelKey:
    """Revoke a key at once: its backend's next request is refused (403). Audited; revoking twice changes nothing."""
    _require_manager(by)
    with transaction.atomic():
        locked = ChannelKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            audit.record(actor=by, action=AuditAction.REVOKE, event="open311.revoke_channel_key", obj=locked, unit=access.acting_unit(by))
    return locked


def authenticate_channel_key(plain: str) -> ChannelKey | None:
    """The usable key ``plain`` is, or None (unknown, malformed or revoked); notes when it was last used."""
    if not plain.startswith(KEY_PREFIX) or len(plain) > 100:
        return None
    key = ChannelKey.objects.usable().filter(digest=token_digest(plain)).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ChannelKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def within_rate_limit(key: ChannelKey) -> bool:
    """Count one request of ``key``; whether it is within the key's requests per hour."""
    return ratelimit.hit(ratelimit.Rule(name="open311_key", limit=key.rate_limit, window=3600), str(key.pk))
