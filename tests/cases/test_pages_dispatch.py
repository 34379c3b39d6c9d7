"""Dispatch, transfer, merge, decline and close through the pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rightscare.cases import services
from rightscare.cases.models import Case, CaseEvent, CaseStatus, EventKind, Transfer, WorkOrder, WorkOrderStatus
from rightscare.org.models import Region
from tests.cases.pages import as_user, dispatch_on_suggestion, key, post, register_cai, register_zhao, unit_named, unit_of


@pytest.fixture
def zhao(demo_org):
    return register_zhao(demo_org)


def test_dispatch_page_preselects_the_responsibility_list(client, demo_org, zhao):
    pingshan = demo_org["pingshan.dispatcher"]
    # Registered by the city; the Pingshan district federation dispatches it in its own area too.
    as_user(client, pingshan)
    response = client.get(reverse("case_dispatch", args=[zhao.pk]))
    assert response.status_code == 200
    initial = response.context["form"].initial
    assert initial["lead"].name == "深圳市坪山区人力资源局"
    assert [u.name for u in initial["cohandlers"]] == ["坪山街道劳动监察中队"]
    assert (initial["time_class"], initial["legal_basis"]) == ("complex", "consent")
    # Her choices: her district's units, never another district's.
    choices = set(response.context["form"].fields["lead"].queryset.values_list("name", flat=True))
    assert "深圳市坪山区人力资源局" in choices
    assert "深圳市光明区民政局" not in choices


def test_dispatch_creates_exact_work_orders_once(client, demo_org, zhao):
    pingshan = demo_org["pingshan.dispatcher"]
    hr, labour = unit_named("深圳市坪山区人力资源局"), unit_named("坪山街道劳动监察中队")
    as_user(client, pingshan)
    data = {
        "idempotency_key": key(),
        "lead": hr.pk,
        "cohandlers": [labour.pk],
        "time_class": "complex",
        "legal_basis": "statutory",
        "instructions": "请依法处理。",
    }
    first = client.post(reverse("case_dispatch", args=[zhao.pk]), data)
    second = client.post(reverse("case_dispatch", args=[zhao.pk]), data)
    assert (first.status_code, second.status_code) == (302, 302)
    assert first["Location"] == reverse("case_detail", args=[zhao.pk])
    orders = sorted(
        WorkOrder.objects.filter(case=zhao).values_list("unit__name", "role", "status", "time_class", "legal_basis", "sent_by_unit_id", "instructions")
    )
    assert orders == [
        ("坪山街道劳动监察中队", "cohandler", "sent", "complex", "statutory", unit_of(pingshan).pk, "请依法处理。"),
        ("深圳市坪山区人力资源局", "lead", "sent", "complex", "statutory", unit_of(pingshan).pk, "请依法处理。"),
    ]
    assert Case.objects.get(pk=zhao.pk).status == CaseStatus.DISPATCHED
    assert CaseEvent.objects.filter(case=zhao, kind=EventKind.DISPATCHED).count() == 1
    # Dispatching again while a lead holds the case: 409, nothing added.
    response = post(client, reverse("case_dispatch", args=[zhao.pk]), {"lead": hr.pk, "time_class": "standard", "legal_basis": "consent"})
    assert response.status_code == 409
    assert "This case already has a lead unit" in response.content.decode()
    assert WorkOrder.objects.filter(case=zhao).count() == 2


def test_dispatch_outside_her_reach_or_without_right(client, demo_org, zhao):
    as_user(client, demo_org["pingshan.dispatcher"])
    outside = unit_named("深圳市光明区民政局")
    response = post(client, reverse("case_dispatch", args=[zhao.pk]), {"lead": outside.pk, "time_class": "standard", "legal_basis": "consent"})
    assert response.status_code == 422
    assert response.context["form"].errors["lead"]
    # The city supervisor sees the case but does not dispatch: 403; a sibling district: 404.
    as_user(client, demo_org["city.supervisor"])
    assert client.get(reverse("case_dispatch", args=[zhao.pk])).status_code == 403
    as_user(client, demo_org["guangming.dispatcher"])
    assert client.get(reverse("case_dispatch", args=[zhao.pk])).status_code == 404
    assert not WorkOrder.objects.filter(case=zhao).exists()


def test_decline_needs_a_reason(client, demo_org, zhao):
    as_user(client, demo_org["city.dispatcher"])
    assert post(client, reverse("case_decline", args=[zhao.pk]), {"reason": ""}).status_code == 422
    assert Case.objects.get(pk=zhao.pk).status == CaseStatus.REGISTERED
    assert post(client, reverse("case_decline", args=[zhao.pk]), {"reason": "不属于妇联受理范围。"}).status_code == 302
    case = Case.objects.get(pk=zhao.pk)
    assert (case.status, case.not_accepted_reason) == (CaseStatus.NOT_ACCEPTED, "不属于妇联受理范围。")
    # Declined cases are final: declining again is refused with nothing changed.
    response = post(client, reverse("case_decline", args=[zhao.pk]), {"reason": "再次。"})
    assert response.status_code == 409
    assert Case.objects.get(pk=zhao.pk).not_accepted_reason == "不属于妇联受理范围。"


def test_merge_and_undo(client, demo_org, zhao):
    duplicate = register_zhao(demo_org, summary="再次来电：孕期被扣工资。")
    as_user(client, demo_org["city.dispatcher"])
    response = post(client, reverse("case_merge", args=[duplicate.pk]), {"into_number": "SZ-1999-000001"})
    assert response.status_code == 422
    assert Case.objects.get(pk=duplicate.pk).status == CaseStatus.REGISTERED
    assert post(client, reverse("case_merge", args=[duplicate.pk]), {"into_number": zhao.number.lower(), "reason": "同一事项。"}).status_code == 302
    merged = Case.objects.get(pk=duplicate.pk)
    assert (merged.status, merged.merged_into_id) == (CaseStatus.MERGED, zhao.pk)
    page = client.get(reverse("case_detail", args=[duplicate.pk])).content.decode()
    assert reverse("case_unmerge", args=[duplicate.pk]) in page
    assert post(client, reverse("case_unmerge", args=[duplicate.pk])).status_code == 302
    restored = Case.objects.get(pk=duplicate.pk)
    assert (restored.status, restored.merged_into_id) == (CaseStatus.REGISTERED, None)


def test_closing_needs_a_resolved_case(client, demo_org, zhao):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    [order] = dispatch_on_suggestion(zhao, city)
    as_user(client, city)
    response = post(client, reverse("case_close", args=[zhao.pk]))
    assert response.status_code == 409
    assert Case.objects.get(pk=zhao.pk).status == CaseStatus.DISPATCHED
    services.sign_for_work_order(work_order=order, by=pingshan)
    services.record_first_contact(work_order=order, by=pingshan, note="电话。")
    services.complete_work_order(work_order=order, by=pingshan, result="已解决。")
    services.review_work_order(work_order=order, by=city, accept=True)
    page = client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    assert reverse("case_close", args=[zhao.pk]) in page
    assert post(client, reverse("case_close", args=[zhao.pk]), {"note": "结案。"}).status_code == 302
    assert Case.objects.get(pk=zhao.pk).status == CaseStatus.CLOSED


def test_transfer_to_guangming_and_what_longhua_keeps(client, demo_org):
    longhua, guangming = demo_org["longhua.dispatcher"], demo_org["guangming.dispatcher"]
    cai = register_cai(demo_org)
    orders = dispatch_on_suggestion(cai, longhua, legal_basis="statutory")
    for order in orders:
        actor = demo_org["longhua.police"] if order.unit.kind.code == "public-security" else longhua
        services.sign_for_work_order(work_order=order, by=actor)
        services.record_first_contact(work_order=order, by=actor, note="龙华：与刘某某面谈。")
    guangming_unit = unit_of(guangming)
    new_region = Region.objects.filter(parent=guangming_unit.region).order_by("code").first()
    assert new_region is not None

    as_user(client, longhua)
    form = client.get(reverse("case_transfer", args=[cai.pk])).context["form"]
    assert guangming_unit in form.fields["to_unit"].queryset
    assert unit_of(longhua) not in form.fields["to_unit"].queryset
    data = {"to_unit": guangming_unit.pk, "reason": "一家搬到光明区。", "new_region": new_region.pk, "new_address": "光明区某小区8栋"}
    assert post(client, reverse("case_transfer", args=[cai.pk]), data).status_code == 302
    transfer = Transfer.objects.get(case=cai)
    assert transfer.status == Transfer.Status.PENDING
    response = post(client, reverse("case_transfer", args=[cai.pk]), data)
    assert response.status_code == 409  # a transfer is already waiting: no second one
    assert "A transfer of this case is already waiting for an answer." in response.content.decode()
    assert Transfer.objects.filter(case=cai).count() == 1

    # Only the receiving federation answers; for anyone else the transfer does not exist.
    for username in ("longhua.dispatcher", "pingshan.dispatcher", "guangming.police"):
        as_user(client, demo_org[username])
        assert client.get(reverse("transfer_decide", args=[transfer.pk])).status_code == 404, username
    as_user(client, guangming)
    queues = client.get(reverse("dispatch_queues")).content.decode()
    assert reverse("transfer_decide", args=[transfer.pk]) in queues
    page = client.get(reverse("transfer_decide", args=[transfer.pk])).content.decode()
    assert "光明区某小区8栋" not in page
    assert post(client, reverse("transfer_decide", args=[transfer.pk]), {"decision": "accept", "note": "接手。"}).status_code == 302
    cai.refresh_from_db()
    assert (cai.region_id, cai.location_confidential) == (new_region.pk, True)
    assert sorted(WorkOrder.objects.filter(case=cai).values_list("unit__name", "status")) == sorted(
        [(o.unit.name, WorkOrderStatus.TRANSFERRED) for o in orders] + [(guangming_unit.name, WorkOrderStatus.SIGNED)]
    )
    assert "光明区某小区8栋" in client.get(reverse("case_detail", args=[cai.pk])).content.decode()

    # Longhua keeps the history it wrote, but not the new address.
    as_user(client, longhua)
    response = client.get(reverse("case_detail", args=[cai.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "龙华：与刘某某面谈。" in page
    assert "光明区某小区8栋" not in page
    assert "龙华区某小区" not in page
    assert not response.context["show_address"]
    # Answering twice: 409, nothing changes.
    as_user(client, guangming)
    response = post(client, reverse("transfer_decide", args=[transfer.pk]), {"decision": "refuse", "note": "不接。"})
    assert response.status_code == 409
    assert Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.ACCEPTED
