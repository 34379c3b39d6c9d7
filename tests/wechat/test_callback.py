"""The WeChat official account's callback, fed the sample messages of WeChat's developer
documentation (接收普通消息, 接收事件推送) with signatures computed outside the code under test.

Plain mode here; the encrypted (safe) mode is in test_safe_mode.py.
"""

from __future__ import annotations

import re

import pytest
import xmltodict
from django.db import connection
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from rightscare.cases.models import Category
from rightscare.intake.models import Contact
from rightscare.notifications.models import WeChatFollower
from rightscare.petitioners import services as petitioners
from rightscare.wechat import services
from rightscare.wechat.models import InboundMessage, MessageKind, Processing
from rightscare.wechat.tasks import process_inbound_messages
from tests.wechat.conftest import NONCE, SIGNATURE, SIGNATURE_OTHER_NONCE, TIMESTAMP, URL, deliver, verify

pytestmark = pytest.mark.django_db

TASK_PATH = "rightscare.wechat.tasks.process_inbound_messages"

# --- the documentation's sample messages (verbatim) ----------------------------------------------

TEXT = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1348831860</CreateTime>
  <MsgType><![CDATA[text]]></MsgType>
  <Content><![CDATA[this is a test]]></Content>
  <MsgId>1234567890123456</MsgId>
</xml>"""

IMAGE = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1348831860</CreateTime>
  <MsgType><![CDATA[image]]></MsgType>
  <PicUrl><![CDATA[this is a url]]></PicUrl>
  <MediaId><![CDATA[media_id]]></MediaId>
  <MsgId>1234567890123456</MsgId>
</xml>"""

VOICE = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1357290913</CreateTime>
  <MsgType><![CDATA[voice]]></MsgType>
  <MediaId><![CDATA[media_id]]></MediaId>
  <Format><![CDATA[Format]]></Format>
  <MsgId>1234567890123456</MsgId>
</xml>"""

LOCATION = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1351776360</CreateTime>
  <MsgType><![CDATA[location]]></MsgType>
  <Location_X>23.134521</Location_X>
  <Location_Y>113.358803</Location_Y>
  <Scale>20</Scale>
  <Label><![CDATA[位置信息]]></Label>
  <MsgId>1234567890123456</MsgId>
</xml>"""

SUBSCRIBE = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[FromUser]]></FromUserName>
  <CreateTime>123456789</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[subscribe]]></Event>
</xml>"""

UNSUBSCRIBE = SUBSCRIBE.replace("<CreateTime>123456789</CreateTime>", "<CreateTime>123456790</CreateTime>").replace("[subscribe]", "[unsubscribe]")


def text_message(content: str, *, msg_id: str = "1234567890123456", sender: str = "fromUser") -> str:
    return TEXT.replace("this is a test", content).replace("1234567890123456", msg_id).replace("fromUser", sender)


def reply_of(response) -> dict[str, str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/xml")
    return xmltodict.parse(response.content)["xml"]


def stored_columns(column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM wechat_inboundmessage")
        return [row[0] for row in cursor.fetchall()]


def in_chinese(msgid: str, **values: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(msgid) % values if values else translation.gettext(msgid)


@pytest.fixture
def no_inline_submission(monkeypatch):
    """Make any inline call of submit_request fail the test (the worker must do it)."""
    calls = []

    def forbidden(**kwargs):
        calls.append(kwargs)
        raise AssertionError("submit_request called in the request")

    monkeypatch.setattr(petitioners, "submit_request", forbidden)
    return calls


# --- the address check ------------------------------------------------------------------------------


def test_url_verification_echoes_echostr(client):
    response = verify(client, echostr="5838479218127813673")

    assert response.status_code == 200
    assert response.content == b"5838479218127813673"


@pytest.mark.parametrize(
    "query",
    [
        {"signature": "0" * 40},  # wrong signature
        {"signature": SIGNATURE, "nonce": "yyyyyy"},  # signature of another nonce
        {"signature": ""},  # none
    ],
)
def test_url_verification_with_a_bad_signature_is_refused(client, query):
    assert verify(client, echostr="5838479218127813673", **query).status_code == 403


def test_url_verification_fails_when_not_configured(client, settings):
    assert verify(client, echostr="1", nonce="yyyyyy", signature=SIGNATURE_OTHER_NONCE).status_code == 200
    settings.WECHAT_TOKEN = ""
    assert verify(client, echostr="1").status_code == 403


def test_clock_skew_calls_far_from_the_server_clock_are_refused_even_when_signed(client, settings):
    settings.WECHAT_MAX_CLOCK_SKEW_SECONDS = 300
    sent = int(TIMESTAMP)

    assert verify(client, echostr="1", at=sent + 299).status_code == 200
    assert verify(client, echostr="1", at=sent + 3600).status_code == 403  # an hour late: a replay
    assert deliver(client, TEXT, at=sent - 301).status_code == 403
    assert InboundMessage.objects.count() == 0
    assert deliver(client, TEXT, at=sent + 5).status_code == 200
    assert InboundMessage.objects.count() == 1


# --- bad signatures store nothing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "query"),
    [
        (TEXT, {"signature": "0" * 40}),
        (TEXT, {"signature": SIGNATURE, "nonce": "yyyyyy"}),
        (TEXT, {"signature": ""}),
        (SUBSCRIBE, {"signature": "0" * 40}),
        (TEXT, {"encrypt_type": "aes", "msg_signature": "0" * 40}),  # encrypted, but plain mode is configured
    ],
)
def test_a_bad_signature_is_refused_and_nothing_is_stored(client, django_capture_on_commit_callbacks, xml, query):
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, xml, **query)

    assert response.status_code == 403
    assert (InboundMessage.objects.count(), Contact.objects.count(), WeChatFollower.objects.count()) == (0, 0, 0)
    assert not DBTaskResult.objects.filter(task_path=TASK_PATH).exists()


def test_get_and_post_only(client):
    assert client.put(f"{URL}?signature={SIGNATURE}&timestamp={TIMESTAMP}&nonce={NONCE}").status_code == 405


# --- text messages --------------------------------------------------------------------------------------


def test_a_text_message_is_stored_encrypted_answered_at_once_and_left_to_the_worker(client, no_inline_submission, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_of(deliver(client, TEXT))

    # The passive reply goes back to the sender, in Chinese, with the links to the form and the tracking page.
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == ("fromUser", "toUser", "text")
    assert "https://help.example.org/submit/" in reply["Content"]
    assert "https://help.example.org/track/" in reply["Content"]
    assert "查询" in reply["Content"]
    assert reply["Content"] == in_chinese(
        "Your message has been received and will be read by a caseworker. "
        "To send a complete request and get a tracking code, use this form: %(submit)s\n"
        "To follow a request, send 查询 and your tracking code (for example: 查询 ABCD-EFGH-JKLM-NPQR), or open %(track)s\n"
        "If you are in danger now, call 110.",
        submit="https://help.example.org/submit/",
        track="https://help.example.org/track/",
    )
    # Stored once, its text and the sender's openid encrypted; the contact is not created in the request.
    [message] = InboundMessage.objects.all()
    assert (message.msg_id, message.kind, message.content, message.sender, message.processing) == (
        "1234567890123456",
        MessageKind.TEXT,
        "this is a test",
        "fromUser",
        Processing.PENDING,
    )
    assert not any("this is a test" in value for value in stored_columns("content"))
    assert not any("fromUser" in value for value in stored_columns("sender"))
    assert no_inline_submission == []
    assert Contact.objects.count() == 0
    # The worker's task is queued, with no message data in it.
    [queued] = DBTaskResult.objects.filter(task_path=TASK_PATH)
    assert queued.args_kwargs == {"args": [], "kwargs": {}}


def test_the_worker_turns_the_text_into_a_contact_in_the_intake_queue(client, personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, TEXT)
    [queued] = DBTaskResult.objects.filter(task_path=TASK_PATH, status="READY")

    # Run the queued task as the worker would.
    assert process_inbound_messages.call(*queued.args_kwargs["args"], **queued.args_kwargs["kwargs"]) == {"recorded": 1, "failed": 0, "deleted": 0}

    [contact] = petitioners.pending_submissions_for(personas["operator"])  # the Pingshan federation's intake operator
    assert (contact.channel, contact.content, contact.caller_phone, contact.operator) == ("wechat", "this is a test", "", None)
    details = contact.submission
    assert (details.anonymous, details.name, details.may_call, details.may_text) == (True, "", False, False)
    assert details.category == Category.objects.get(code="other", valid_until__isnull=True)
    assert details.region.code == "440310000000"
    # Contactable through WeChat: the contact leads back to the openid.
    assert services.contact_openid(contact) == "fromUser"
    message = InboundMessage.objects.get()
    assert (message.processing, message.contact) == (Processing.DONE, contact)
    # Running again records nothing twice.
    assert process_inbound_messages.call() == {"recorded": 0, "failed": 0, "deleted": 0}
    assert Contact.objects.count() == 1


def test_msgid_repeats_are_handled_once_and_get_the_same_reply(client, personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        # WeChat's first delivery and its three retries.
        replies = [reply_of(deliver(client, TEXT)) for _attempt in range(4)]

    assert len({reply["Content"] for reply in replies}) == 1
    [message] = InboundMessage.objects.all()
    assert message.deliveries == 4
    assert DBTaskResult.objects.filter(task_path=TASK_PATH).count() == 1
    process_inbound_messages.call()
    assert Contact.objects.count() == 1
    # Another message (another MsgId) from the same sender is a new one.
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, text_message("还有一件事", msg_id="1234567890123457"))
    assert InboundMessage.objects.count() == 2


@pytest.mark.parametrize(("xml", "secret"), [(IMAGE, "this is a url"), (VOICE, "media_id"), (LOCATION, "23.134521")])
def test_pictures_voice_and_locations_get_a_polite_reply_and_are_not_kept(client, no_inline_submission, xml, secret):
    reply = reply_of(deliver(client, xml))

    assert reply["Content"] == in_chinese(
        "Thank you. Only written messages can be read here: please write what happened as text, or use this form: %(submit)s",
        submit="https://help.example.org/submit/",
    )
    [message] = InboundMessage.objects.all()
    assert (message.kind, message.content, message.processing) == (MessageKind.OTHER, "", Processing.NONE)
    assert secret not in repr(list(InboundMessage.objects.values_list()))
    assert Contact.objects.count() == 0


def test_replies_name_no_organisation_unless_configured(client, settings, org):
    reply = reply_of(deliver(client, TEXT))["Content"]
    assert not any(word in reply for word in ("妇联", "Federation", "RightsCare", org.units["pingshan"].name))

    settings.WECHAT_REPLY_SIGNATURE = "某某服务中心"
    signed = reply_of(deliver(client, text_message("再问一下", msg_id="42")))["Content"]
    assert signed.endswith("\n\n某某服务中心")


# --- 查询 <code> --------------------------------------------------------------------------------------


@pytest.fixture
def tracked(org, personas):
    """A request submitted on the web form, waiting in the Pingshan federation's queue: its code."""
    result = petitioners.submit_request(
        channel="web_form",
        submission=petitioners.SubmissionData(
            description="公司在我怀孕后把我辞退了。",
            category=Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True),
            region=org.regions["pingshan_community"],
            anonymous=True,
            phone="138 0013 8000",
        ),
    )
    return result.code


QUERY_REPLY = "Request %(code)s: %(status)s\nWith your PIN you can see more at %(track)s"


def _status_in(reply: str, code: str) -> str:
    template = re.escape(in_chinese(QUERY_REPLY, code="\x00", status="\x01", track="https://help.example.org/track/"))
    match = re.fullmatch(template.replace("\x00", re.escape(code)).replace("\x01", "(?P<status>.+)"), reply, flags=re.S)
    assert match, reply
    return match.group("status")


@pytest.mark.parametrize("keyword", ["查询", "query", "QUERY", "查询："])
def test_a_query_answers_the_status_the_code_alone_shows(client, tracked, org, keyword):
    with translation.override("zh-hans"):
        expected = str(petitioners.public_status(petitioners.find_tracking(tracked)).label)  # type: ignore[arg-type]

    reply = reply_of(deliver(client, text_message(f"{keyword} {tracked}")))["Content"]

    assert _status_in(reply, tracked).startswith(expected)
    # Nothing the code alone would not show: no unit, no description.
    for secret in (org.units["pingshan"].name, org.units["pingshan_street"].name, "怀孕"):
        assert secret not in reply
    # The code typed is not kept, and a query is no request.
    [message] = InboundMessage.objects.all()
    assert (message.kind, message.content, message.processing) == (MessageKind.QUERY, "", Processing.NONE)


def test_known_and_unknown_codes_are_answered_alike_apart_from_the_status(client, tracked):
    unknown = "ABCD-EFGH-JKLM-NPQR"
    assert petitioners.find_tracking(unknown) is None

    known_reply = reply_of(deliver(client, text_message(f"查询 {tracked}", msg_id="1")))["Content"]
    unknown_reply = reply_of(deliver(client, text_message(f"查询 {unknown}", msg_id="2")))["Content"]

    assert _status_in(unknown_reply, unknown) == in_chinese("no request was found with this code. Please check the code.")
    assert _status_in(known_reply, tracked) != _status_in(unknown_reply, unknown)


def test_queries_are_rate_limited_per_openid(client, settings, tracked):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "wechat_query": (2, 3600), "wechat_query_wrong": (5, 3600)}
    limited = in_chinese("Too many queries. Please try again later.")

    first, second, third = (reply_of(deliver(client, text_message(f"查询 {tracked}", msg_id=str(n))))["Content"] for n in range(3))

    assert limited not in first and limited not in second
    assert third == limited
    # Someone else may still ask.
    other = reply_of(deliver(client, text_message(f"查询 {tracked}", msg_id="9", sender="oOtherUser")))["Content"]
    assert limited not in other


def test_wrong_codes_exhaust_the_openid_allowance(client, settings, tracked):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "wechat_query": (50, 3600), "wechat_query_wrong": (2, 3600)}
    limited = in_chinese("Too many queries. Please try again later.")
    for n in range(2):
        assert reply_of(deliver(client, text_message(f"查询 ABCD-EFGH-JKLM-NPQ{n}", msg_id=str(n))))["Content"] != limited

    # After two wrong codes even the right one is refused: guessing does not pay.
    assert reply_of(deliver(client, text_message(f"查询 {tracked}", msg_id="7")))["Content"] == limited


# --- following and unfollowing -------------------------------------------------------------------------


def test_subscribe_and_unsubscribe_call_the_notifications_hook_once_each(client, monkeypatch):
    from rightscare.notifications import petitioner

    calls = []
    real = petitioner.record_wechat_subscription

    def spy(**kwargs):
        calls.append((kwargs["openid"], kwargs["following"]))
        return real(**kwargs)

    monkeypatch.setattr(petitioner, "record_wechat_subscription", spy)

    welcome = reply_of(deliver(client, SUBSCRIBE))
    again = reply_of(deliver(client, SUBSCRIBE))  # a retry: no MsgId, same sender and CreateTime

    assert calls == [("FromUser", True)]
    assert welcome == again
    assert welcome["Content"] == in_chinese(
        "Welcome. You can write to us here; a caseworker will read your message.\n"
        "To send a complete request and get a tracking code: %(submit)s\n"
        "To follow a request, send 查询 and your tracking code.\n"
        "If you are in danger now, call 110.",
        submit="https://help.example.org/submit/",
    )
    assert WeChatFollower.objects.get().following is True

    response = deliver(client, UNSUBSCRIBE)

    assert (response.status_code, response.content) == (200, b"success")
    assert calls == [("FromUser", True), ("FromUser", False)]
    assert WeChatFollower.objects.get().following is False
    assert InboundMessage.objects.count() == 2


# --- retention ---------------------------------------------------------------------------------------------


def test_old_rows_are_deleted_and_those_of_contacts_blanked(client, settings, personas, django_capture_on_commit_callbacks):
    import datetime

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, TEXT)
        deliver(client, IMAGE.replace("1234567890123456", "99"))
    process_inbound_messages.call()

    later = timezone.now() + datetime.timedelta(days=settings.WECHAT_MESSAGE_RETENTION_DAYS + 1)
    assert services.purge_old_messages(now=later) == 1

    [kept] = InboundMessage.objects.all()
    assert (kept.kind, kept.content, kept.reply, kept.sender) == (MessageKind.TEXT, "", "", "fromUser")
    assert services.contact_openid(kept.contact) == "fromUser"
