"""The operator's recent contacts: her and her units' contacts, the channel filter, one
contact's page (an audited read), attaching it to another case and detaching it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.cases.models import Case, CaseEvent, EventKind
from rightscare.intake.models import Channel, Contact, Outcome
from rightscare.intake.services import record_contact
from tests.intake.conftest import call_data, unit_of


@pytest.fixture
def calls(demo_org, as_user):
    """Two cases taken by the city hotline (Zhao's, and a 12345 transfer), and a Longhua walk-in."""
    client = as_user(demo_org["hotline"])
    client.post(reverse("intake"), call_data())
    client.post(
        reverse("intake"),
        call_data(
            channel="platform_12345", external_ticket_number="12345-0001", caller_phone="13800138022", caller_name="钱女士", content="12345转来：拖欠工资。"
        ),
    )
    longhua = demo_org["longhua.dispatcher"]
    walk_in = record_contact(by=longhua, unit=unit_of(longhua), channel=Channel.WALK_IN, content="来访咨询。")
    zhao_case, transfer_case = Case.objects.order_by("id")
    return {"zhao": zhao_case, "transfer": transfer_case, "walk_in": walk_in}


def rows(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td><a href=\"/intake/contacts/(\d+)/\"", page)


def test_list_shows_her_units_contacts_newest_first(demo_org, as_user, calls):
    response = as_user(demo_org["hotline"]).get(reverse("intake_contact_list"))
    page = response.content.decode()
    assert response.status_code == 200
    contacts = list(Contact.objects.filter(unit=unit_of(demo_org["hotline"])).order_by("-occurred_at", "-id").values_list("pk", flat=True))
    assert rows(page) == [str(pk) for pk in contacts]
    assert calls["zhao"].number in page and calls["transfer"].number in page
    assert "+86 138****8021" in page and "12345-0001" in page
    assert "13800138021" not in page  # phones masked in the list


def test_a_colleague_of_the_unit_sees_them_another_district_does_not(demo_org, as_user, calls):
    # The city dispatcher works in the hotline's unit; Longhua sees only its walk-in.
    assert len(rows(as_user(demo_org["city.dispatcher"]).get(reverse("intake_contact_list")).content.decode())) == 2
    assert rows(as_user(demo_org["longhua.dispatcher"]).get(reverse("intake_contact_list")).content.decode()) == [str(calls["walk_in"].pk)]
    for username in ("city.supervisor", "pingshan.hr"):
        assert as_user(demo_org[username]).get(reverse("intake_contact_list")).status_code == 403


def test_channel_filter_and_htmx_results(demo_org, as_user, calls):
    client = as_user(demo_org["hotline"])
    page = client.get(reverse("intake_contact_list"), {"channel": "platform_12345"}).content.decode()
    transfer_contact = Contact.objects.get(channel=Channel.PLATFORM_12345)
    assert rows(page) == [str(transfer_contact.pk)]
    fragment = client.get(reverse("intake_contact_list"), {"channel": "hotline"}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in html and "<table" in html
    assert rows(html) == [str(Contact.objects.get(channel=Channel.HOTLINE).pk)]
    # An unknown channel is ignored, not an error.
    assert len(rows(client.get(reverse("intake_contact_list"), {"channel": "fax"}).content.decode())) == 2


def test_list_query_count_does_not_grow_with_contacts(demo_org, as_user, calls, django_assert_max_num_queries):
    client = as_user(demo_org["hotline"])
    client.get(reverse("intake_contact_list"))  # warm the session
    with django_assert_max_num_queries(12):
        client.get(reverse("intake_contact_list"))
    for index in range(5):
        record_contact(by=demo_org["hotline"], unit=unit_of(demo_org["hotline"]), channel=Channel.LETTER, content=f"来信{index}")
    with django_assert_max_num_queries(12):
        assert len(rows(client.get(reverse("intake_contact_list")).content.decode())) == 7


def test_contact_page_is_an_audited_read(demo_org, as_user, calls):
    contact = Contact.objects.get(channel=Channel.PLATFORM_12345)
    client = as_user(demo_org["hotline"])
    reads = AuditEntry.objects.filter(action=AuditAction.READ, object_id=str(contact.pk)).count()
    response = client.get(reverse("intake_contact_detail", args=[contact.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "12345转来：拖欠工资。" in page and "12345-0001" in page and "+86 138 0013 8022" in page
    assert AuditEntry.objects.filter(action=AuditAction.READ, object_id=str(contact.pk)).count() == reads + 1


def test_contact_out_of_scope_is_404(demo_org, as_user, calls):
    contact = Contact.objects.get(channel=Channel.HOTLINE)
    for username in ("longhua.dispatcher", "pingshan.dispatcher"):
        client = as_user(demo_org[username])
        assert client.get(reverse("intake_contact_detail", args=[contact.pk])).status_code == 404, username
        assert client.post(reverse("intake_contact_detach", args=[contact.pk])).status_code == 404, username
        assert client.post(reverse("intake_contact_attach", args=[contact.pk]), {"case_number": calls["zhao"].number}).status_code == 404, username
    assert Contact.objects.get(pk=contact.pk).case == calls["zhao"]


def test_attach_to_another_case(demo_org, as_user, calls):
    contact = Contact.objects.get(channel=Channel.PLATFORM_12345)
    client = as_user(demo_org["hotline"])
    response = client.post(reverse("intake_contact_attach", args=[contact.pk]), {"case_number": calls["zhao"].number.lower(), "idempotency_key": "k1"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.case, contact.outcome) == (calls["zhao"], Outcome.ATTACHED)
    assert CaseEvent.objects.filter(case=calls["zhao"], kind=EventKind.CONTACT, data__contact=contact.pk).exists()
    assert AuditEntry.objects.filter(event="intake.attach_contact", object_id=str(contact.pk)).count() == 1
    # The same submission again changes nothing more.
    client.post(reverse("intake_contact_attach", args=[contact.pk]), {"case_number": calls["zhao"].number, "idempotency_key": "k1"})
    assert AuditEntry.objects.filter(event="intake.attach_contact", object_id=str(contact.pk)).count() == 1


@pytest.mark.parametrize("number", ["", "SZ-1999-000001", "longhua"])
def test_attach_to_an_unknown_or_hidden_case_changes_nothing(demo_org, as_user, calls, number):
    if number == "longhua":
        longhua = demo_org["longhua.dispatcher"]
        from rightscare.cases.services import register_case
        from tests.intake.conftest import category, region

        # An accusation against the city federation: the city never sees it.
        hidden = register_case(
            by=longhua,
            unit=unit_of(longhua),
            request_type="accusation",
            category=category("divorce"),
            summary="举报。",
            region=region("龙华区"),
            accused_unit=unit_of(demo_org["hotline"]),
        )
        number = hidden.number
    contact = Contact.objects.get(channel=Channel.PLATFORM_12345)
    response = as_user(demo_org["hotline"]).post(reverse("intake_contact_attach", args=[contact.pk]), {"case_number": number})
    assert response.status_code == 422
    contact.refresh_from_db()
    assert (contact.case, contact.outcome) == (calls["transfer"], Outcome.NEW_CASE)


def test_detach_keeps_the_contact_without_a_case(demo_org, as_user, calls):
    contact = Contact.objects.get(channel=Channel.PLATFORM_12345)
    client = as_user(demo_org["city.dispatcher"])
    assert client.post(reverse("intake_contact_detach", args=[contact.pk])).status_code == 302
    contact.refresh_from_db()
    assert (contact.case, contact.outcome) == (None, Outcome.NO_ACTION)
    assert Case.objects.filter(pk=calls["transfer"].pk).exists()
    assert str(contact.pk) in rows(client.get(reverse("intake_contact_list")).content.decode())
    # Detaching again does nothing.
    audits = AuditEntry.objects.filter(event="intake.detach_contact").count()
    client.post(reverse("intake_contact_detach", args=[contact.pk]))
    assert AuditEntry.objects.filter(event="intake.detach_contact").count() == audits


def test_detach_is_a_post(demo_org, as_user, calls):
    contact = Contact.objects.get(channel=Channel.HOTLINE)
    assert as_user(demo_org["hotline"]).get(reverse("intake_contact_detach", args=[contact.pk])).status_code == 405
    assert Contact.objects.get(pk=contact.pk).case == calls["zhao"]
