"""Telling the petitioner: whom, through which channel, when, in which words, and why not."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from rightscare.audit.models import AuditEntry
from rightscare.cases import services as cases
from rightscare.cases.models import Case, Category, PartyRole, RequestType
from rightscare.notifications import petitioner, services
from rightscare.notifications.models import Message, MessageStatus, MessageTemplate, NoticeOutcome, NoticeReason, PetitionerNotice
from rightscare.registry.models import Person, SafeContact, Sex
from rightscare.registry.services import SafeContactInput, record_person

pytestmark = pytest.mark.django_db

#: 10:00 in Shenzhen.
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
PHONE, PHONE_E164 = "138 0013 8021", "+8613800138021"
GUARDIAN_PHONE, GUARDIAN_E164 = "137 1111 2222", "+8613711112222"
RESPONDENT_PHONE, RESPONDENT_E164 = "139 2233 4455", "+8613922334455"
OPENID = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"


@pytest.fixture
def sms(fake_gateway, settings):
    """SMS through the fake gateway; WeChat off; English wording."""
    settings.SMS_GATEWAY_URL = f"{fake_gateway.url}/send"
    settings.SMS_GATEWAY_TOKEN = ""
    settings.SMS_SENDER_NAME = "深圳妇联"
    settings.WECHAT_APP_ID = ""
    settings.NOTIFICATIONS_SENDER_NAME = "Shenzhen Women's Federation"
    settings.NOTIFICATIONS_ORGANISATION_WORDS = ["妇联", "Women's Federation"]
    settings.PETITIONER_CHANNELS = ["wechat", "sms"]
    settings.LANGUAGE_CODE = "en"
    fake_gateway.answer("/send", (200, {}))
    return fake_gateway


@pytest.fixture
def people(org, personas):
    """Recording people and cases as the Pingshan operator."""
    operator, unit = personas["operator"], org.units["pingshan"]

    def person(name: str = "赵女士", *, phones=((PHONE, False),), safe: SafeContactInput | None = None, **fields) -> Person:
        return record_person(by=operator, unit=unit, name=name, sex=Sex.FEMALE, phones=list(phones), safe_contact=safe, **fields)

    def case(petitioner_: Person | None, *, category: str = "wage-arrears", respondents: tuple[Person, ...] = ()) -> Case:
        return cases.register_case(
            by=operator,
            unit=unit,
            request_type=RequestType.HELP,
            category=Category.objects.get(code=category, valid_until__isnull=True),
            summary="她需要帮助。",
            region=org.regions["pingshan_street"],
            petitioner=petitioner_,
            parties=[cases.PartyInput(role=PartyRole.RESPONDENT, person=respondent) for respondent in respondents],
        )

    person.case = case  # type: ignore[attr-defined]
    return person


def _messages() -> list[tuple[str, str, str]]:
    return list(Message.objects.order_by("id").values_list("event", "channel", "to_address"))


def _notice(case: Case, event: str = "petitioner.registered") -> PetitionerNotice:
    return PetitionerNotice.objects.get(case=case, event=event)


def _not_notified_audits(case: Case) -> list[dict]:
    return [entry.changes for entry in AuditEntry.objects.filter(event="notifications.petitioner_not_notified", object_id=str(case.pk)).order_by("id")]


# --- whom ---------------------------------------------------------------------------------------


def test_registration_texts_the_petitioner_through_the_outbox_not_inline(sms, people):
    with time_machine.travel(NOW, tick=False):
        case = people.case(people())

    assert _messages() == [("petitioner.registered", "sms", PHONE_E164)]
    message = Message.objects.get()
    assert (message.status, message.guard, message.sender_name, message.next_attempt_at) == (MessageStatus.PENDING, "petitioner", "", NOW)
    assert message.body == f"Shenzhen Women's Federation: your request {case.number} has been received and registered."
    assert sms.received == []  # nothing leaves before the worker sends it
    notice = _notice(case)
    assert (notice.outcome, notice.reason, notice.channel, notice.message_id, notice.recipient_id) == (
        NoticeOutcome.QUEUED,
        "",
        "sms",
        message.pk,
        case.petitioner_id,
    )

    with time_machine.travel(NOW, tick=False):
        assert services.deliver_due_messages(worker_id="w").sent == 1
    assert [(r.json()["to"], r.json()["key"]) for r in sms.received] == [(PHONE_E164, str(message.key))]


def test_a_domestic_violence_victim_who_said_no_to_texts_gets_none(sms, people):
    victim = people(safe=SafeContactInput(may_text=False, may_call=True))
    case = people.case(victim, category="dv-physical")

    assert _messages() == []
    notice = _notice(case)
    assert (notice.outcome, notice.reason, notice.message_id) == (NoticeOutcome.NOT_SENT, NoticeReason.TEXT_NOT_ALLOWED, None)
    assert _not_notified_audits(case) == [{"event": "petitioner.registered", "round": 0, "reason": "text_not_allowed"}]


def test_a_sensitive_case_without_safe_contact_instructions_gets_no_text(sms, people):
    case = people.case(people(), category="child-neglect")
    assert _messages() == []
    assert _notice(case).reason == NoticeReason.NO_INSTRUCTIONS


def test_a_shared_phone_is_never_texted_in_a_sensitive_case(sms, people):
    only_shared = people("孙女士", phones=[(PHONE, True)], safe=SafeContactInput())
    case = people.case(only_shared, category="dv-physical")
    assert (_messages(), _notice(case).reason) == ([], NoticeReason.NO_ADDRESS)

    both = people("李女士", phones=[(PHONE, True), ("138 0013 9999", False)], safe=SafeContactInput())
    people.case(both, category="dv-physical")
    assert _messages() == [("petitioner.registered", "sms", "+8613800139999")]


def test_a_shared_phone_may_be_texted_when_the_case_is_not_sensitive(sms, people):
    people.case(people(phones=[(PHONE, True)]))
    assert _messages() == [("petitioner.registered", "sms", PHONE_E164)]


def test_nothing_goes_to_a_respondent(sms, people):
    respondent = people("钱某", phones=[(RESPONDENT_PHONE, False)])
    # She gave the household's number, which is also his: it is his, as far as texts go.
    petitioner_ = people(phones=[(RESPONDENT_PHONE, False)], safe=SafeContactInput())
    case = people.case(petitioner_, category="dv-physical", respondents=(respondent,))
    assert _messages() == []
    assert _notice(case).reason == NoticeReason.NO_ADDRESS

    # A respondent recorded as the petitioner of a case about himself is not told either.
    own = people.case(respondent, respondents=(respondent,))
    assert _notice(own).reason == NoticeReason.RESPONDENT
    assert Message.objects.filter(to_address=RESPONDENT_E164).count() == 0


def test_a_child_under_14_is_never_texted_but_her_guardian_is(sms, people):
    mother = people("周女士", phones=[(GUARDIAN_PHONE, False)])
    child = people("小周", phones=[(PHONE, False)], approximate_age=10, guardian=mother)
    case = people.case(child, category="school-bullying")  # child protection: the guardian's record counts
    assert (_messages(), _notice(case).reason) == ([], NoticeReason.NO_INSTRUCTIONS)

    SafeContact.objects.create(person=mother)
    other = people.case(child, category="school-bullying")
    assert _messages() == [("petitioner.registered", "sms", GUARDIAN_E164)]
    assert _notice(other).recipient_id == mother.pk


def test_nobody_is_told_when_the_guardian_is_the_alleged_abuser(sms, people):
    father = people("吴某", phones=[(GUARDIAN_PHONE, False)], safe=SafeContactInput())
    flagged = people("小吴", phones=[(PHONE, False)], approximate_age=9, guardian=father, guardian_is_alleged_abuser=True)
    case = people.case(flagged)
    assert _notice(case).reason == NoticeReason.CHILD

    # Not flagged, but a respondent of this very case: the same.
    unflagged = people("小吴二", phones=[(PHONE, False)], approximate_age=9, guardian=father)
    accused = people.case(unflagged, respondents=(father,))
    assert _notice(accused).reason == NoticeReason.CHILD
    assert _messages() == []
    assert [changes["reason"] for changes in _not_notified_audits(case) + _not_notified_audits(accused)] == ["child", "child"]


def test_a_case_without_a_petitioner_says_so(sms, people):
    case = people.case(None)
    assert (_notice(case).outcome, _notice(case).reason) == (NoticeOutcome.NOT_SENT, NoticeReason.NO_PETITIONER)


def test_without_a_configured_channel_nothing_is_queued_or_recorded(settings, people):
    settings.SMS_GATEWAY_URL = settings.WECHAT_APP_ID = ""
    people.case(people())
    assert (Message.objects.count(), PetitionerNotice.objects.count()) == (0, 0)


# --- when ------------------------------------------------------------------------------------------


def test_outside_her_safe_hours_the_message_waits_for_the_window(sms, people):
    victim = people(safe=SafeContactInput(safe_from=dt.time(18, 0), safe_until=dt.time(20, 0)))
    with time_machine.travel(NOW, tick=False):  # 10:00
        case = people.case(victim, category="dv-physical")
    message = Message.objects.get()
    evening = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # 18:00 in Shenzhen
    assert (_notice(case).outcome, message.next_attempt_at) == (NoticeOutcome.HELD, evening)

    with time_machine.travel(evening - timedelta(minutes=1), tick=False):
        assert services.deliver_due_messages(worker_id="w").sent == 0
    assert sms.received == []
    with time_machine.travel(evening, tick=False):
        assert services.deliver_due_messages(worker_id="w").sent == 1
    assert len(sms.received) == 1


def test_a_retry_that_falls_after_her_window_is_held_until_the_next_one(sms, people, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 3600
    sms.answer("/send", (503, {}), (200, {}))
    victim = people(safe=SafeContactInput(safe_from=dt.time(18, 0), safe_until=dt.time(19, 30)))
    evening = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    with time_machine.travel(evening, tick=False):
        people.case(victim, category="dv-physical")
        assert services.deliver_due_messages(worker_id="w").retried == 1  # the gateway refused at 18:00
    message = Message.objects.get()
    assert message.next_attempt_at == evening + timedelta(hours=1)
    # The worker was busy: it gets to the message at 20:00, outside her hours. Held, not sent, no attempt used.
    with time_machine.travel(evening + timedelta(hours=2), tick=False):
        report = services.deliver_due_messages(worker_id="w")
    message.refresh_from_db()
    assert (report.held, report.sent, message.attempts, message.next_attempt_at) == (1, 0, 1, evening + timedelta(days=1))
    assert len(sms.received) == 1
    with time_machine.travel(evening + timedelta(days=1), tick=False):
        assert services.deliver_due_messages(worker_id="w").sent == 1
    assert [r.json()["key"] for r in sms.received] == [str(message.key)] * 2


def test_a_held_message_is_withdrawn_when_she_says_no_to_texts_meanwhile(sms, people):
    victim = people(safe=SafeContactInput(safe_from=dt.time(18, 0), safe_until=dt.time(20, 0)))
    with time_machine.travel(NOW, tick=False):
        case = people.case(victim, category="dv-physical")
    SafeContact.objects.filter(person=victim).update(may_text=False)

    with time_machine.travel(datetime(2026, 3, 9, 10, 0, tzinfo=UTC), tick=False):
        report = services.deliver_due_messages(worker_id="w")
    message = Message.objects.get()
    assert (report.withdrawn, report.sent, message.status, message.attempts) == (1, 0, MessageStatus.CANCELLED, 0)
    assert sms.received == []
    notice = _notice(case)
    assert (notice.outcome, notice.reason) == (NoticeOutcome.WITHDRAWN, NoticeReason.TEXT_NOT_ALLOWED)
    assert _not_notified_audits(case) == [{"event": "petitioner.registered", "round": 0, "reason": "text_not_allowed"}]
    assert AuditEntry.objects.filter(event="notifications.message_withdrawn", object_id=str(message.pk)).count() == 1


# --- in which words -----------------------------------------------------------------------------


def test_a_neutral_sender_name_replaces_the_organisation_everywhere(sms, people):
    # An administrator's wording that names the organisation is set aside for her.
    MessageTemplate.objects.create(
        event="petitioner.registered", channel="", language="en", subject="Women's Federation", body="The Shenzhen 妇联 registered {{ reference }}."
    )
    victim = people(safe=SafeContactInput(neutral_sender="Community service"))
    case = people.case(victim, category="dv-physical")
    message = Message.objects.get()
    assert message.sender_name == "Community service"
    assert (message.subject, message.body) == (
        "Community service: your request has been received",
        f"Community service: your request {case.number} has been received and registered.",
    )
    assert services.deliver_due_messages(worker_id="w").sent == 1
    assert sms.received[0].json()["sender"] == "Community service"

    # Someone without a neutral name gets the administrator's wording.
    people.case(people("钱女士", phones=[("138 0013 7777", False)]))
    assert Message.objects.order_by("-id").first().body.startswith("The Shenzhen 妇联 registered")


def test_a_sensitive_case_never_names_its_category_or_domestic_violence(sms, people):
    MessageTemplate.objects.create(
        event="petitioner.registered", channel="sms", language="en", subject="{{ sender }}", body="Domestic violence report {{ reference }} received."
    )
    people.case(people(safe=SafeContactInput()), category="dv-physical")
    body = Message.objects.get().body
    assert "domestic violence" not in body.casefold() and "physical violence" not in body.casefold()
    assert body.endswith("has been received and registered.")


def test_a_neutral_name_that_itself_names_the_organisation_sends_nothing(sms, people):
    case = people.case(people(safe=SafeContactInput(neutral_sender="妇联热线")), category="dv-physical")
    assert (_messages(), _notice(case).reason) == ([], NoticeReason.REVEALING)


# --- WeChat ----------------------------------------------------------------------------------------


@pytest.fixture
def wechat(sms, settings):
    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx1234567890abcdef", "secret"
    settings.WECHAT_API_BASE_URL = f"{sms.url}/cgi-bin/"
    settings.WECHAT_TEMPLATE_IDS = {code: f"template-{code}" for code in ("petitioner.registered", "petitioner.dispatched")}
    return sms


def test_wechat_only_for_people_who_follow_the_account(wechat, people):
    follower = people("关注者")
    petitioner.record_wechat_subscription(openid=OPENID, following=True)
    petitioner.link_wechat_follower(person=follower, openid=OPENID)
    people.case(follower)
    people.case(people("未关注", phones=[("138 0013 5555", False)]))
    assert _messages() == [("petitioner.registered", "wechat", OPENID), ("petitioner.registered", "sms", "+8613800135555")]

    # She unfollowed: texts again.
    petitioner.record_wechat_subscription(openid=f"  {OPENID} ", following=False)
    people.case(follower)
    assert _messages()[-1] == ("petitioner.registered", "sms", PHONE_E164)


def test_a_follower_who_asked_for_a_neutral_sender_is_texted_not_messaged_by_the_account(wechat, people):
    follower = people(safe=SafeContactInput(neutral_sender="社区服务"))
    petitioner.link_wechat_follower(person=follower, openid=OPENID)
    people.case(follower)
    assert _messages() == [("petitioner.registered", "sms", PHONE_E164)]


def test_a_follower_who_unfollows_before_sending_is_not_messaged(wechat, people):
    follower = people(phones=[])
    petitioner.link_wechat_follower(person=follower, openid=OPENID)
    case = people.case(follower)
    assert _messages() == [("petitioner.registered", "wechat", OPENID)]
    petitioner.record_wechat_subscription(openid=OPENID, following=False)

    report = services.deliver_due_messages(worker_id="w")
    assert (report.withdrawn, Message.objects.get().status, _notice(case).reason) == (1, MessageStatus.CANCELLED, NoticeReason.NO_ADDRESS)
    assert wechat.received == []


def test_the_openid_is_stored_encrypted(wechat, people):
    from django.db import connection

    follower = petitioner.link_wechat_follower(person=people(), openid=OPENID)
    with connection.cursor() as cursor:
        cursor.execute("SELECT openid, openid_index FROM notifications_wechatfollower WHERE id = %s", [follower.pk])
        stored, index = cursor.fetchone()
    assert OPENID not in stored and OPENID not in index


# --- the case's life cycle ---------------------------------------------------------------------------


def test_the_stages_of_her_case_each_send_one_message(sms, people, org, personas):
    dispatcher, handler = personas["dispatcher"], personas["handler"]
    case = people.case(people())
    order = cases.dispatch_case(case=case, by=dispatcher, dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"])[0]
    order = cases.sign_for_work_order(work_order=order, by=handler)
    order = cases.record_first_contact(work_order=order, by=handler, note="电话联系。")
    order = cases.complete_work_order(work_order=order, by=handler, result="已追回工资。")
    cases.review_work_order(work_order=order, by=dispatcher, accept=True)

    assert [event for event, _channel, _to in _messages()] == ["petitioner.registered", "petitioner.dispatched", "petitioner.completed", "petitioner.rate"]
    assert list(PetitionerNotice.objects.filter(case=case).values_list("event", "round")) == [
        ("petitioner.registered", 0),
        ("petitioner.dispatched", 0),
        ("petitioner.completed", 1),
        ("petitioner.rate", 1),
    ]
    # Asked again for the same stage (another caller, a repeated hook): nothing new.
    assert petitioner.notify_petitioner(case=case, event="petitioner.rate") is None
    assert Message.objects.count() == 4


# --- the case page -----------------------------------------------------------------------------------


def test_the_case_page_shows_what_she_was_told_and_why_not_without_her_number(sms, people, personas, login, client):
    from django.urls import reverse

    told = people.case(people())
    not_told = people.case(people("孙女士", safe=SafeContactInput(may_text=False)), category="dv-physical")
    login(personas["operator"])

    page = client.get(reverse("case_detail", args=[told.pk])).content.decode()
    assert "Messages to the petitioner" in page
    assert "Petitioner: her request was registered" in page and "Text message (SMS)" in page and "in the outbox · waiting to be sent" in page
    assert "38021" not in page.replace(" ", "")  # not even the end of her number

    page = client.get(reverse("case_detail", args=[not_told.pk])).content.decode()
    assert "She said written messages are not safe." in page


def test_the_case_page_has_no_panel_when_no_channel_is_configured(settings, people, personas, login, client):
    from django.urls import reverse

    settings.SMS_GATEWAY_URL = settings.WECHAT_APP_ID = ""
    case = people.case(people())
    login(personas["operator"])
    assert "Messages to the petitioner" not in client.get(reverse("case_detail", args=[case.pk])).content.decode()


def test_an_event_outside_the_petitioners_loop_is_a_programming_error(sms, people):
    case = people.case(None)
    with pytest.raises(ValueError, match="not an event of the petitioner's loop"):
        petitioner.notify_petitioner(case=case, event="org.role_granted")
