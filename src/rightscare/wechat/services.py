"""The WeChat official account's callback: check, store, answer at once; record in the worker.

WeChat waits 5 seconds for an answer, then delivers the same message again (three times in
all). So the request does only cheap work (:func:`receive_message`):

1. check the signature (plain mode, ``wechatpy.utils.check_signature``) or the message
   signature and decrypt (safe mode, ``wechatpy.crypto.WeChatCrypto``) — a bad one
   raises :class:`Refused` (403) before anything is stored;
2. find a repeat (same ``MsgId``; for events, same sender, ``CreateTime`` and event) and
   answer it with the reply stored the first time;
3. store the message (``InboundMessage``) and compose the reply: a text message is
   thanked and told how to send a full request and how to follow one; ``查询 <code>``
   answers with the status the code alone shows (rate-limited per openid); following
   the account is welcomed (``record_wechat_subscription`` remembers it); a picture,
   voice or location message is asked for text.

Recording a text message as a contact in the intake queue (``petitioners.services.submit_request``,
which hashes codes and writes several rows) is left to the worker:
:func:`process_pending_messages`, run by the task ``rightscare.wechat.tasks.process_inbound_messages``
after the message is committed and by the scheduler (job ``wechat.process``) for anything left.

Replies are rendered in Chinese (English msgids, rendered in ``zh-hans``) and name no
organisation unless ``RIGHTSCARE_WECHAT_REPLY_SIGNATURE`` says so: whoever holds her phone
may read them.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from rightscare.core import identity
from rightscare.core.errors import Conflict
from rightscare.core.fields import BlindIndexField
from rightscare.wechat.models import InboundMessage, MessageKind, Processing

logger = logging.getLogger(__name__)

#: The language of every reply (a WeChat follower of the account reads Chinese).
REPLY_LANGUAGE = "zh-hans"
#: What WeChat accepts instead of a reply when there is nothing to say.
NO_REPLY = "success"
#: The channel of the contacts recorded from text messages (``intake.models.Channel.WECHAT``).
CHANNEL = "wechat"
#: Messages recorded per run of the worker's task.
BATCH_SIZE = 50

_QUERY = re.compile(r"^\s*(?:查询|查詢|query)(?:[\s:：]+|$)(?P<code>.*)$", re.IGNORECASE | re.DOTALL)
#: Kinds of messages asked to write text instead.
_MEDIA_TYPES = frozenset({"image", "voice", "video", "shortvideo", "location", "link", "file"})


class Refused(Exception):
    """The call is not WeChat's (bad or missing signature, stale timestamp, not configured): 403, nothing stored."""


class Malformed(Exception):
    """A correctly signed call whose message cannot be read: 400, nothing stored."""


@dataclass(frozen=True)
class CallbackQuery:
    """The query string WeChat adds to every call of the callback URL."""

    signature: str = ""
    timestamp: str = ""
    nonce: str = ""
    echostr: str = ""
    encrypt_type: str = ""
    msg_signature: str = ""

    @classmethod
    def from_params(cls, params: Any) -> CallbackQuery:
        """From ``request.GET``."""
        return cls(**{name: str(params.get(name, "")) for name in ("signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature")})


@dataclass(frozen=True)
class Incoming:
    """The fields of a message the callback uses."""

    msg_id: str
    sender: str
    account: str
    create_time: int
    msg_type: str
    event: str
    content: str


# --- signatures -------------------------------------------------------------------------------


def safe_mode() -> bool:
    """Whether an EncodingAESKey is configured: then only encrypted messages are taken."""
    return bool(settings.WECHAT_ENCODING_AES_KEY)


def _token() -> str:
    token = str(settings.WECHAT_TOKEN or "")
    if not token:
        raise Refused("the callback is not configured (RIGHTSCARE_WECHAT_TOKEN)")
    return token


def _crypto() -> WeChatCrypto:
    try:
        return WeChatCrypto(_token(), settings.WECHAT_ENCODING_AES_KEY, settings.WECHAT_APP_ID)
    except (AssertionError, ValueError) as error:  # a key that is not 43 base64 characters
        raise Refused("RIGHTSCARE_WECHAT_ENCODING_AES_KEY is not a valid EncodingAESKey") from error


def _check_fresh(timestamp: str) -> None:
    skew = float(settings.WECHAT_MAX_CLOCK_SKEW_SECONDS)
    try:
        sent = int(timestamp)
    except ValueError:
        raise Refused("no timestamp") from None
    if skew > 0 and abs(time.time() - sent) > skew:
        raise Refused("the timestamp is too far from the server's clock")


def _check_plain_signature(query: CallbackQuery) -> None:
    try:
        check_signature(_token(), query.signature, query.timestamp, query.nonce)
    except InvalidSignatureException:
        raise Refused("bad signature") from None


def verify_url(query: CallbackQuery) -> str:
    """The server-address check WeChat makes when the URL is saved (GET): the ``echostr`` to echo back.

    The official account signs it in plain (token, timestamp, nonce) in every mode.
    """
    _check_plain_signature(query)
    _check_fresh(query.timestamp)
    if not query.echostr:
        raise Refused("no echostr")
    return query.echostr


def open_message(*, body: bytes, query: CallbackQuery) -> str:
    """The message XML of a call, once its signature is checked (and, in safe mode, decrypted).

    In safe mode only encrypted calls (``encrypt_type=aes``, as safe and compatible mode send
    them) are taken, checked with ``msg_signature``; in plain mode only plain ones, checked
    with ``signature`` (which covers no content: prefer safe mode, see the guide).
    """
    _token()
    _check_fresh(query.timestamp)
    if safe_mode():
        if query.encrypt_type.lower() != "aes" or not query.msg_signature:
            raise Refused("safe mode: the message is not encrypted")
        crypto = _crypto()
        try:
            return str(crypto.decrypt_message(body, query.msg_signature, query.timestamp, query.nonce))
        except InvalidSignatureException:
            raise Refused("bad message signature") from None
        except Exception as error:  # not an envelope, wrong AppID, bad padding: not WeChat's
            raise Refused(f"cannot decrypt ({type(error).__name__})") from None
    if query.encrypt_type and query.encrypt_type.lower() != "raw":
        raise Refused("plain mode: an encrypted message cannot be read (set RIGHTSCARE_WECHAT_ENCODING_AES_KEY)")
    _check_plain_signature(query)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None


def seal_reply(*, reply_xml: str, query: CallbackQuery) -> str:
    """The reply as sent: encrypted and signed in safe mode, as is in plain mode."""
    if reply_xml == NO_REPLY or not safe_mode():
        return reply_xml
    return str(_crypto().encrypt_message(reply_xml, query.nonce, query.timestamp))


# --- messages ---------------------------------------------------------------------------------------


def parse(xml: str) -> Incoming:
    """Read a message (wechatpy's parser; entities are not expanded)."""
    try:
        message = parse_message(xml)
        data = getattr(message, "_data", None)
        if not isinstance(data, dict):
            raise ValueError("no message")
        sender = identity.normalise("wechat_openid", str(data.get("FromUserName") or ""))
        create_time = int(data.get("CreateTime") or 0)
    except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise Malformed(type(error).__name__) from None
    except Exception as error:  # expat errors
        raise Malformed(type(error).__name__) from None
    msg_type = str(data.get("MsgType") or "").strip().lower()
    return Incoming(
        msg_id=str(data.get("MsgId") or "").strip()[:32],
        sender=sender,
        account=str(data.get("ToUserName") or ""),
        create_time=create_time,
        msg_type=msg_type[:32],
        event=str(data.get("Event") or "").strip().lower()[:64] if msg_type == "event" else "",
        content=str(data.get("Content") or "") if msg_type == "text" else "",
    )


def _kind(incoming: Incoming) -> str:
    if incoming.msg_type == "text":
        if _QUERY.match(incoming.content):
            return MessageKind.QUERY
        return MessageKind.TEXT if incoming.content.strip() else MessageKind.OTHER
    if incoming.msg_type == "event":
        if incoming.event == "subscribe":
            return MessageKind.SUBSCRIBE
        if incoming.event == "unsubscribe":
            return MessageKind.UNSUBSCRIBE
        return MessageKind.EVENT
    return MessageKind.OTHER


def _sender_index_field() -> BlindIndexField:
    field_ = InboundMessage._meta.get_field("sender_index")
    assert isinstance(field_, BlindIndexField)
    return field_


def _repeat_of(incoming: Incoming) -> InboundMessage | None:
    if incoming.msg_id:
        return InboundMessage.objects.filter(msg_id=incoming.msg_id).first()
    return InboundMessage.objects.filter(
        msg_id="", sender_index__in=_sender_index_field().candidates(incoming.sender), create_time=incoming.create_time, event=incoming.event
    ).first()


def _answer_repeat(stored: InboundMessage) -> str:
    InboundMessage.objects.filter(pk=stored.pk).update(deliveries=F("deliveries") + 1)
    return stored.reply


def receive_message(*, xml: str, site_url: str, safe: bool = False) -> tuple[str, Incoming]:
    """Handle one signed message: store it once, and return the reply text ("" for none) and the message.

    A repeat (same ``MsgId``, or for an event the same sender, time and event) changes
    nothing and gets the first reply. A text message is recorded as a contact by the
    worker after this transaction commits.
    """
    incoming = parse(xml)
    stored = _repeat_of(incoming)
    if stored is not None:
        return _answer_repeat(stored), incoming
    kind = _kind(incoming)
    with translation.override(REPLY_LANGUAGE):
        reply = _compose_reply(kind, incoming, site_url=site_url)
    message = InboundMessage(
        msg_id=incoming.msg_id,
        sender=incoming.sender,
        sender_index=_sender_index_field().digest(incoming.sender),
        create_time=incoming.create_time,
        msg_type=incoming.msg_type,
        event=incoming.event,
        kind=kind,
        # Only a request's text is kept; a query's code and everything else are not.
        content=incoming.content.strip() if kind == MessageKind.TEXT else "",
        reply=reply,
        safe_mode=safe,
        processing=Processing.PENDING if kind == MessageKind.TEXT else Processing.NONE,
    )
    try:
        with transaction.atomic():
            message.save()
            if kind in (MessageKind.SUBSCRIBE, MessageKind.UNSUBSCRIBE):
                from rightscare.notifications.petitioner import record_wechat_subscription

                at = timezone.now()
                record_wechat_subscription(openid=incoming.sender, following=kind == MessageKind.SUBSCRIBE, at=at)
            if kind == MessageKind.TEXT:
                transaction.on_commit(_trigger_processing)
    except IntegrityError:
        # The same message delivered twice at once: the other delivery stored it first.
        stored = _repeat_of(incoming)
        if stored is None:
            raise
        return _answer_repeat(stored), incoming
    return reply, incoming


def render_reply(*, text: str, incoming: Incoming) -> str:
    """The passive reply XML for ``text`` (``success`` when there is nothing to say)."""
    if not text:
        return NO_REPLY
    reply = TextReply(source=incoming.account, target=incoming.sender, content=text)
    return str(reply.render())


def _trigger_processing() -> None:
    from rightscare.wechat.tasks import process_inbound_messages

    try:
        process_inbound_messages.enqueue()
    except Exception:  # the message is stored: the scheduler's next run records it
        logger.exception("could not enqueue the recording of a WeChat message")


# --- replies ------------------------------------------------------------------------------------------


def _signed(text: str) -> str:
    signature = str(settings.WECHAT_REPLY_SIGNATURE or "").strip()
    return f"{text}\n\n{signature}" if signature else text


def _link(site_url: str, name: str) -> str:
    return site_url.rstrip("/") + reverse(name)


def _compose_reply(kind: str, incoming: Incoming, *, site_url: str) -> str:
    submit, track = _link(site_url, "public_submit"), _link(site_url, "public_track")
    if kind == MessageKind.TEXT:
        return _signed(
            _(
                "Your message has been received and will be read by a caseworker. "
                "To send a complete request and get a tracking code, use this form: %(submit)s\n"
                "To follow a request, send 查询 and your tracking code (for example: 查询 ABCD-EFGH-JKLM-NPQR), or open %(track)s\n"
                "If you are in danger now, call 110."
            )
            % {"submit": submit, "track": track}
        )
    if kind == MessageKind.QUERY:
        match = _QUERY.match(incoming.content)
        return _signed(_answer_query(incoming.sender, match.group("code").strip() if match else "", track=track))
    if kind == MessageKind.SUBSCRIBE:
        return _signed(
            _(
                "Welcome. You can write to us here; a caseworker will read your message.\n"
                "To send a complete request and get a tracking code: %(submit)s\n"
                "To follow a request, send 查询 and your tracking code.\n"
                "If you are in danger now, call 110."
            )
            % {"submit": submit}
        )
    if kind == MessageKind.OTHER:
        return _signed(
            _("Thank you. Only written messages can be read here: please write what happened as text, or use this form: %(submit)s") % {"submit": submit}
        )
    # Unfollowing (no one to answer) and other events (menu clicks…): nothing to say.
    return ""


def _query_rules() -> tuple[Any, Any]:
    from rightscare.petitioners.ratelimit import Rule

    limits = getattr(settings, "PUBLIC_RATE_LIMITS", {})
    queries, window = limits.get("wechat_query", (10, 3600))
    wrong, wrong_window = limits.get("wechat_query_wrong", (5, 3600))
    return Rule("wechat_query", int(queries), int(window)), Rule("wechat_query_wrong", int(wrong), int(wrong_window))


def _answer_query(openid: str, typed: str, *, track: str) -> str:
    """The status the code alone shows (as on the tracking page), the same words whether the code exists or not."""
    from rightscare.petitioners import ratelimit
    from rightscare.petitioners import services as petitioners

    if not typed:
        return _("To follow a request, send 查询 and your tracking code, for example: 查询 ABCD-EFGH-JKLM-NPQR")
    per_openid, wrong_per_openid = _query_rules()
    if not ratelimit.hit(per_openid, openid) or ratelimit.exceeded(wrong_per_openid, openid):
        return _("Too many queries. Please try again later.")
    tracking = petitioners.find_tracking(typed)
    if tracking is None:
        ratelimit.hit(wrong_per_openid, openid)
        status = _("no request was found with this code. Please check the code.")
    else:
        found = petitioners.public_status(tracking)
        status = found.label
        if found.expected_at is not None and not found.finished:
            status = _("%(status)s. Expected by %(date)s") % {
                "status": status,
                "date": formats.date_format(timezone.localtime(found.expected_at), "DATE_FORMAT"),
            }
        elif found.expected_text:
            status = f"{status}. {found.expected_text}"
    return _("Request %(code)s: %(status)s\nWith your PIN you can see more at %(track)s") % {"code": typed.upper()[:40], "status": status, "track": track}


# --- the worker -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessReport:
    """What a run of the worker did: contacts recorded, messages that could not be, old rows deleted."""

    recorded: int = 0
    failed: int = 0
    deleted: int = 0


def _intake_target() -> tuple[Any, Any]:
    """The region and category a WeChat text is filed under (``RIGHTSCARE_WECHAT_INTAKE_*``)."""
    from rightscare.petitioners import services as petitioners

    regions = petitioners.submission_regions()
    code = str(settings.WECHAT_INTAKE_REGION or "").strip()
    region = regions.filter(code=code).first() if code else None
    if region is None:
        region = min(regions, key=lambda r: (r.depth, r.path), default=None)
    categories = petitioners.current_categories()
    category = categories.filter(code=settings.WECHAT_INTAKE_CATEGORY).first() or categories.order_by("code").first()
    if region is None or category is None:
        raise ValidationError({"region" if region is None else "category": ["nowhere takes WeChat messages"]})
    return region, category


def _record(message: InboundMessage) -> None:
    from rightscare.petitioners import services as petitioners

    region, category = _intake_target()
    submission = petitioners.SubmissionData(
        description=message.content[: petitioners.MAX_DESCRIPTION],
        category=category,
        region=region,
        # Anonymous but reachable on WeChat: no name, no phone, neither calls nor texts. The
        # openid of the message (InboundMessage.sender, see contact_openid) is how to answer her.
        anonymous=True,
        may_call=False,
        may_text=False,
        language=REPLY_LANGUAGE,
    )
    result = petitioners.submit_request(channel=CHANNEL, submission=submission, idempotency_key=f"wechat:{message.pk}")
    InboundMessage.objects.filter(pk=message.pk).update(processing=Processing.DONE, processed_at=timezone.now(), contact=result.contact)


def process_pending_messages(*, limit: int = BATCH_SIZE) -> ProcessReport:
    """Record waiting text messages as contacts of channel ``wechat`` in the intake queue, and
    delete log rows older than ``RIGHTSCARE_WECHAT_MESSAGE_RETENTION_DAYS``.

    Safe to run twice and in several workers: each message is submitted with the idempotency
    key ``wechat:<id>``, so a second run finds the contact of the first.
    """
    from rightscare.petitioners.services import RateLimited

    recorded = failed = 0
    for message in InboundMessage.objects.filter(processing=Processing.PENDING).order_by("pk")[:limit]:
        try:
            _record(message)
        except Conflict:
            continue  # another worker is recording it right now
        except (ValidationError, RateLimited) as error:
            # Never the text in the log: only which message and why.
            fields = sorted(getattr(error, "message_dict", {})) if isinstance(error, ValidationError) else []
            logger.error("WeChat message %s could not be recorded as a contact: %s %s", message.pk, type(error).__name__, fields)
            InboundMessage.objects.filter(pk=message.pk).update(processing=Processing.FAILED, processed_at=timezone.now())
            failed += 1
        else:
            recorded += 1
    return ProcessReport(recorded=recorded, failed=failed, deleted=purge_old_messages())


def purge_old_messages(*, now: Any = None) -> int:
    """Apply the retention (``RIGHTSCARE_WECHAT_MESSAGE_RETENTION_DAYS``): delete older log rows; how many.

    A row that became a contact keeps only the link from the contact to the openid (how to
    answer her on WeChat) for as long as the contact exists: its text and reply are blanked
    (the contact holds the text). Rows still waiting for the worker are kept.
    """
    cutoff = (now or timezone.now()) - timedelta(days=int(settings.WECHAT_MESSAGE_RETENTION_DAYS))
    old = InboundMessage.objects.filter(received_at__lt=cutoff).exclude(processing=Processing.PENDING)
    old.filter(contact__isnull=False).exclude(content="", reply="").update(content="", reply="")
    deleted, _by_model = old.filter(contact__isnull=True).delete()
    return int(deleted)


def retry_failed_messages() -> int:
    """Put messages that could not be recorded back in the queue (after fixing the settings); how many."""
    return InboundMessage.objects.filter(processing=Processing.FAILED).update(processing=Processing.PENDING, processed_at=None)


def contact_openid(contact: Any) -> str:
    """The openid a contact recorded from a WeChat message came from (to answer her on WeChat), or ""."""
    message = InboundMessage.objects.filter(contact=contact).order_by("pk").first()
    return message.sender if message is not None else ""
