"""The work-order actions through the pages: Zhao's case played end to end, returns and rulings,
illegal moves (409, nothing changed), double submits (one record), 403 and 404."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from rightscare.audit.models import AuditEntry
from rightscare.cases import services
from rightscare.cases.models import Case, CaseEvent, CaseStatus, EventKind, ReturnRuling, Visibility, WorkOrder, WorkOrderStatus
from tests.cases.pages import as_user, dispatch_on_suggestion, key, post, register_zhao, unit_named, unit_of


@pytest.fixture
def zhao(demo_org):
    return register_zhao(demo_org)


def _state(order: WorkOrder) -> tuple:
    order.refresh_from_db()
    return (order.status, order.version, order.signed_at, order.completed_at, order.return_ruling, CaseEvent.objects.filter(case=order.case).count())


def test_zhao_played_through_the_pages(client, demo_org, zhao):
    city, pingshan, hr, labour = (demo_org[n] for n in ("city.dispatcher", "pingshan.dispatcher", "pingshan.hr", "pingshan.labour"))
    district = unit_of(pingshan)

    as_user(client, city)
    response = post(client, reverse("case_dispatch", args=[zhao.pk]), {"lead": district.pk, "time_class": "standard", "legal_basis": "consent"})
    assert response.status_code == 302
    [district_order] = WorkOrder.objects.filter(case=zhao)
    assert (district_order.unit, district_order.role, district_order.sent_by_unit, district_order.legal_basis) == (district, "lead", unit_of(city), "consent")

    as_user(client, pingshan)
    page = client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    assert reverse("work_order_sign_for", args=[district_order.pk]) in page
    assert post(client, reverse("work_order_sign_for", args=[district_order.pk])).status_code == 302
    forward_page = client.get(reverse("work_order_forward", args=[district_order.pk]))
    assert forward_page.status_code == 200
    hr_unit, labour_unit = unit_named("深圳市坪山区人力资源局"), unit_named("坪山街道劳动监察中队")
    response = post(
        client,
        reverse("work_order_forward", args=[district_order.pk]),
        {"lead": hr_unit.pk, "cohandlers": [labour_unit.pk], "instructions": "请人社局牵头。"},
    )
    assert response.status_code == 302
    children = {o.unit_id: o for o in WorkOrder.objects.filter(parent=district_order)}
    assert {(o.unit_id, o.role, o.sent_by_unit_id, o.instructions) for o in children.values()} == {
        (hr_unit.pk, "lead", district.pk, "请人社局牵头。"),
        (labour_unit.pk, "cohandler", district.pk, "请人社局牵头。"),
    }
    assert post(client, reverse("work_order_first_contact", args=[district_order.pk]), {"note": "电话联系赵女士。"}).status_code == 302

    for user, unit in ((hr, hr_unit), (labour, labour_unit)):
        order = children[unit.pk]
        as_user(client, user)
        assert post(client, reverse("work_order_sign_for", args=[order.pk])).status_code == 302
        assert post(client, reverse("work_order_first_contact", args=[order.pk]), {"note": "约谈。"}).status_code == 302
        note = {"text": "组织三方协商。", "visibility": "public", "public_text": "承办单位已组织协商。"}
        assert post(client, reverse("work_order_note", args=[order.pk]), note).status_code == 302
        completion = {"result": "企业道歉并补偿。", "outcome_codes": ["mediated", "compensated"], "amount_yuan": "130000" if user is hr else ""}
        assert post(client, reverse("work_order_complete", args=[order.pk]), completion).status_code == 302

    as_user(client, pingshan)
    for order in children.values():
        assert post(client, reverse("work_order_review", args=[order.pk]), {"decision": "accept"}).status_code == 302
    completion = {"result": "已解决。", "outcome_codes": ["compensated"], "amount_yuan": "130000.00"}
    assert post(client, reverse("work_order_complete", args=[district_order.pk]), completion).status_code == 302
    assert Case.objects.get(pk=zhao.pk).status == CaseStatus.IN_PROGRESS

    as_user(client, city)
    assert post(client, reverse("work_order_review", args=[district_order.pk]), {"decision": "accept"}).status_code == 302
    assert Case.objects.get(pk=zhao.pk).status == CaseStatus.RESOLVED
    assert post(client, reverse("case_close", args=[zhao.pk]), {"note": "诉求已解决。"}).status_code == 302

    case = Case.objects.get(pk=zhao.pk)
    assert case.status == CaseStatus.CLOSED
    hr_order = WorkOrder.objects.get(pk=children[hr_unit.pk].pk)
    assert (hr_order.status, hr_order.amount_yuan, hr_order.outcome_codes) == (WorkOrderStatus.ACCEPTED, Decimal("130000.00"), ["mediated", "compensated"])
    assert WorkOrder.objects.get(pk=children[labour_unit.pk].pk).amount_yuan is None
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds.count(EventKind.SIGNED_FOR) == 3
    assert kinds.count(EventKind.ACCEPTED) == 3
    assert kinds.count(EventKind.NOTE) == 2
    assert kinds[-1] == EventKind.CLOSED
    public_note = CaseEvent.objects.filter(case=case, kind=EventKind.NOTE).first()
    assert public_note is not None and (public_note.visibility, public_note.public_text) == (Visibility.PUBLIC, "承办单位已组织协商。")
    assert AuditEntry.objects.filter(event="cases.complete_work_order").count() == 3


def test_return_and_ruling(client, demo_org, zhao):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    [order] = dispatch_on_suggestion(zhao, city)
    as_user(client, pingshan)
    before = _state(order)
    response = post(client, reverse("work_order_return", args=[order.pk]), {"reason": "  "})
    assert response.status_code == 422
    assert _state(order) == before

    assert post(client, reverse("work_order_return", args=[order.pk]), {"reason": "不属于本区。"}).status_code == 302
    order.refresh_from_db()
    assert (order.status, order.return_reason) == (WorkOrderStatus.RETURNED, "不属于本区。")
    assert Case.objects.get(pk=zhao.pk).status == CaseStatus.REGISTERED
    # The returning unit cannot rule on its own return.
    assert post(client, reverse("work_order_rule_return", args=[order.pk]), {"ruling": "justified"}).status_code == 403

    as_user(client, city)
    page = client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    assert reverse("work_order_rule_return", args=[order.pk]) in page
    assert reverse("case_dispatch", args=[zhao.pk]) in page
    assert post(client, reverse("work_order_rule_return", args=[order.pk]), {"ruling": "unjustified", "note": "属于坪山区。"}).status_code == 302
    order.refresh_from_db()
    assert order.return_ruling == ReturnRuling.UNJUSTIFIED
    # A second ruling is an illegal move: 409 with the service's message, nothing changed.
    before = _state(order)
    response = post(client, reverse("work_order_rule_return", args=[order.pk]), {"ruling": "justified"})
    assert response.status_code == 409
    assert "Only a returned work order without a ruling can be ruled on." in response.content.decode()
    assert _state(order) == before


def test_illegal_move_is_refused_and_changes_nothing(client, demo_org, zhao):
    [order] = dispatch_on_suggestion(zhao, demo_org["city.dispatcher"])
    as_user(client, demo_org["pingshan.dispatcher"])
    before = _state(order)
    response = post(client, reverse("work_order_complete", args=[order.pk]), {"result": "已解决。"})
    assert response.status_code == 409
    assert "A work order that is Sent cannot be Complete." in response.content.decode()
    assert _state(order) == before
    assert not AuditEntry.objects.filter(event="cases.complete_work_order").exists()
    # Reviewing a work order that is not completed: the same.
    as_user(client, demo_org["city.dispatcher"])
    response = post(client, reverse("work_order_review", args=[order.pk]), {"decision": "accept"})
    assert response.status_code == 409
    assert _state(order) == before


def test_double_submit_signs_for_once(client, demo_org, zhao):
    [order] = dispatch_on_suggestion(zhao, demo_org["city.dispatcher"])
    as_user(client, demo_org["pingshan.dispatcher"])
    submission = key()
    first = client.post(reverse("work_order_sign_for", args=[order.pk]), {"idempotency_key": submission})
    second = client.post(reverse("work_order_sign_for", args=[order.pk]), {"idempotency_key": submission})
    assert (first.status_code, second.status_code) == (302, 302)
    assert CaseEvent.objects.filter(case=zhao, kind=EventKind.SIGNED_FOR).count() == 1
    assert AuditEntry.objects.filter(event="cases.sign_for_work_order").count() == 1
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.SIGNED


def test_who_may_act(client, demo_org, zhao):
    [order] = dispatch_on_suggestion(zhao, demo_org["city.dispatcher"])
    before = _state(order)
    # The city supervisor sees the case but handles nothing: 403.
    as_user(client, demo_org["city.supervisor"])
    assert client.get(reverse("case_detail", args=[zhao.pk])).status_code == 200
    assert post(client, reverse("work_order_sign_for", args=[order.pk])).status_code == 403
    # The city dispatcher sent it; she does not sign for it.
    as_user(client, demo_org["city.dispatcher"])
    assert post(client, reverse("work_order_sign_for", args=[order.pk])).status_code == 403
    # A sibling district and a department it was not sent to: 404, as if it did not exist.
    for username in ("guangming.dispatcher", "pingshan.hr", "longhua.police"):
        as_user(client, demo_org[username])
        assert post(client, reverse("work_order_sign_for", args=[order.pk])).status_code == 404, username
        assert client.get(reverse("work_order_return", args=[order.pk])).status_code == 404, username
    assert _state(order) == before


def test_send_back_needs_a_reason_and_reopens_the_work(client, demo_org, zhao):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    [order] = dispatch_on_suggestion(zhao, city)
    services.sign_for_work_order(work_order=order, by=pingshan)
    services.record_first_contact(work_order=order, by=pingshan, note="电话。")
    services.complete_work_order(work_order=order, by=pingshan, result="已处理。")
    as_user(client, city)
    before = _state(order)
    assert post(client, reverse("work_order_review", args=[order.pk]), {"decision": "send_back", "comment": ""}).status_code == 422
    assert _state(order) == before
    assert post(client, reverse("work_order_review", args=[order.pk]), {"decision": "send_back", "comment": "补充赔偿金额。"}).status_code == 302
    order.refresh_from_db()
    assert (order.status, order.review_comment) == (WorkOrderStatus.IN_PROGRESS, "补充赔偿金额。")


def test_unit_only_note_stays_in_the_unit(client, demo_org, zhao):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    [order] = dispatch_on_suggestion(zhao, city)
    services.sign_for_work_order(work_order=order, by=pingshan)
    as_user(client, pingshan)
    assert post(client, reverse("work_order_note", args=[order.pk]), {"text": "内部：当事人情绪不稳。", "visibility": "unit"}).status_code == 302
    assert post(client, reverse("work_order_note", args=[order.pk]), {"text": "已约谈企业。", "visibility": "handling"}).status_code == 302
    assert "内部：当事人情绪不稳。" in client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    as_user(client, city)
    page = client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    assert "内部：当事人情绪不稳。" not in page
    assert "已约谈企业。" in page


def test_forward_form_offers_only_units_below(client, demo_org, zhao):
    [order] = dispatch_on_suggestion(zhao, demo_org["city.dispatcher"])
    pingshan = demo_org["pingshan.dispatcher"]
    services.sign_for_work_order(work_order=order, by=pingshan)
    as_user(client, pingshan)
    form = client.get(reverse("work_order_forward", args=[order.pk])).context["form"]
    names = set(form.fields["lead"].queryset.values_list("name", flat=True))
    assert "深圳市坪山区人力资源局" in names
    assert "坪山街道劳动监察中队" in names
    assert "深圳市光明区民政局" not in names
    assert unit_of(pingshan).name not in names
    outside = unit_named("深圳市光明区民政局")
    response = post(client, reverse("work_order_forward", args=[order.pk]), {"lead": outside.pk})
    assert response.status_code == 422
    assert not WorkOrder.objects.filter(parent=order).exists()
