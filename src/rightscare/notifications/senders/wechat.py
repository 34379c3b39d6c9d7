"""WeChat template messages of the official account, through wechatpy (settings ``RIGHTSCARE_WECHAT_*``).

A template message reaches only someone who follows the account; the message's
address is her openid (see :class:`~rightscare.notifications.models.WeChatFollower`).
Each event needs a template chosen in the account's back office, named in
``RIGHTSCARE_WECHAT_TEMPLATES``; the message's subject and text fill the template's
two fields named in ``RIGHTSCARE_WECHAT_TEMPLATE_FIELDS``. The access token is kept
in Django's cache (Redis in production), so that every worker shares one instead of
fetching its own (WeChat limits how often a token may be fetched).

WeChat's API takes no idempotency key: a message whose worker died between WeChat's
answer and the row being marked sent may arrive twice (see the duplicate window in
the operations guide).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from rightscare.notifications.senders import DeliveryError, PermanentDeliveryError, Sender

if TYPE_CHECKING:
    from rightscare.notifications.models import Message

#: WeChat error codes after which trying again cannot help: invalid openid, unknown
#: template, invalid template data, not (or no longer) a follower, blocked by the user.
PERMANENT_ERRORS = frozenset({40003, 40037, 47003, 43004, 43019})
#: Seconds before its expiry at which a cached access token is no longer used.
TOKEN_MARGIN_SECONDS = 300


class CacheSessionStorage(SessionStorage):
    """wechatpy's token store in Django's cache, shared by every worker."""

    prefix = "rightscare:wechat:"

    def get(self, key: str, default: Any = None) -> Any:
        return cache.get(self.prefix + key, default)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        timeout = max(int(ttl) - TOKEN_MARGIN_SECONDS, 60) if ttl else None
        cache.set(self.prefix + key, value, timeout)

    def delete(self, key: str) -> None:
        cache.delete(self.prefix + key)


class _TimeoutSession(requests.Session):
    """A session that never waits forever: wechatpy fetches tokens without a timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


class AccountClient(WeChatClient):
    """wechatpy's client against ``RIGHTSCARE_WECHAT_API_BASE_URL`` (a proxy in an intranet, a fake server in tests)."""

    def __init__(self, *, appid: str, secret: str, base_url: str, timeout: float) -> None:
        super().__init__(appid, secret, session=CacheSessionStorage(), timeout=timeout)
        self.API_BASE_URL = base_url if base_url.endswith("/") else base_url + "/"
        self._http = _TimeoutSession(timeout)

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(url=f"{self.API_BASE_URL}token", params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


def client() -> AccountClient:
    """A client of the configured official account."""
    return AccountClient(
        appid=str(settings.WECHAT_APP_ID),
        secret=str(settings.WECHAT_APP_SECRET),
        base_url=str(settings.WECHAT_API_BASE_URL),
        timeout=float(settings.WECHAT_TIMEOUT),
    )


def template_id(event: str) -> str:
    """The account's template for ``event`` (empty when none is configured)."""
    return str(settings.WECHAT_TEMPLATE_IDS.get(event, ""))


def template_data(message: Message) -> dict[str, dict[str, str]]:
    """The template's fields: the subject in the first configured field, the text in the second."""
    fields = list(settings.WECHAT_TEMPLATE_FIELDS) or ["keyword1", "keyword2"]
    subject_field, body_field = fields[0], fields[1] if len(fields) > 1 else fields[0]
    if subject_field == body_field:
        return {body_field: {"value": f"{message.subject}\n{message.body}"}}
    return {subject_field: {"value": message.subject}, body_field: {"value": message.body}}


class WeChatTemplateSender(Sender):
    channel = "wechat"
    label = _("WeChat template message")
    reaches_users = False

    def is_configured(self) -> bool:
        return bool(settings.WECHAT_APP_ID and settings.WECHAT_APP_SECRET)

    def supports(self, event: str) -> bool:
        """Whether the account has a template for ``event``."""
        return self.is_configured() and bool(template_id(event))

    def deliver(self, message: Message) -> None:
        """Send one template message to the follower whose openid is the message's address."""
        if not self.is_configured():
            raise DeliveryError("no WeChat official account is configured (RIGHTSCARE_WECHAT_APP_ID)")
        template = template_id(message.event)
        if not template:
            raise PermanentDeliveryError(f"no WeChat template for the event {message.event}")
        if not message.to_address:
            raise PermanentDeliveryError("no openid")
        try:
            client().message.send_template(message.to_address, template, template_data(message))
        except WeChatClientException as error:
            if error.errcode in PERMANENT_ERRORS:
                raise PermanentDeliveryError(f"WeChat refused the message (error {error.errcode})") from error
            raise DeliveryError(f"WeChat error {error.errcode}") from error
        except requests.RequestException as error:
            raise DeliveryError(f"WeChat unreachable: {error.__class__.__name__}") from error


SENDER = WeChatTemplateSender()
