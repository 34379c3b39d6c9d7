"""The case page: header, confidentiality, the work-order tree with her actions, the timeline, scope."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils.html import escape

from rightscare.cases import services
from rightscare.cases.models import CaseEvent, RequestType, Visibility
from rightscare.org.models import Region
from tests.cases.pages import as_user, category, dispatch_on_suggestion, register_cai, register_zhao, unit_named, unit_of


@pytest.fixture
def zhao(demo_org):
    return register_zhao(demo_org)


def test_header_shows_the_case(client, demo_org, zhao):
    as_user(client, demo_org["city.dispatcher"])
    response = client.get(reverse("case_detail", args=[zhao.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = response.content.decode()
    assert response.status_code == 200
    for text in (zhao.number, "孕期、产期、哺乳期权益", "坪山街道", "坪山街道某工业园", "赵女士", "某电子科技有限公司", "孕期被扣工资，哺乳期不续签合同。"):
        assert text in page, text
    local = zhao.created_at.astimezone(datetime.timezone(datetime.timedelta(hours=8)))
    assert f"{local.year}年{local.month}月{local.day}日" in page
    assert reverse("case_dispatch", args=[zhao.pk]) in page
    assert reverse("case_decline", args=[zhao.pk]) in page


def test_confidential_reporter_and_address(client, demo_org):
    cai = register_cai(demo_org)
    longhua = demo_org["longhua.dispatcher"]
    dispatch_on_suggestion(cai, longhua, legal_basis="statutory")
    # The handling units see the mandatory reporter; a supervisor of the city, who only oversees, does not.
    for username, sees in (("longhua.dispatcher", True), ("longhua.police", True), ("city.supervisor", False)):
        as_user(client, demo_org[username])
        response = client.get(reverse("case_detail", args=[cai.pk]))
        assert response.status_code == 200, username
        assert ("龙华区人民医院急诊科" in response.content.decode()) is sees, username
    # Once the location is confidential, only the units holding the case and the area's dispatchers read it.
    cai.location_confidential = True
    cai.save(update_fields=["location_confidential"])
    for username, sees in (("longhua.dispatcher", True), ("longhua.police", True), ("city.supervisor", True)):
        as_user(client, demo_org[username])
        assert ("龙华区某小区" in client.get(reverse("case_detail", args=[cai.pk])).content.decode()) is sees, username


def test_out_of_scope_is_404(client, demo_org, zhao):
    # A Guangming user on a Pingshan case; a department the case was not sent to.
    for username in ("guangming.dispatcher", "guangming.police", "pingshan.hr", "longhua.dispatcher"):
        as_user(client, demo_org[username])
        assert client.get(reverse("case_detail", args=[zhao.pk])).status_code == 404, username
        assert client.get(reverse("case_timeline", args=[zhao.pk])).status_code == 404, username
    # The accused unit never sees the accusation, even when another unit of the area handles it.
    pingshan = demo_org["pingshan.dispatcher"]
    hr = unit_named("深圳市坪山区人力资源局")
    accusation = services.register_case(
        by=pingshan,
        unit=unit_of(pingshan),
        request_type=RequestType.ACCUSATION,
        category=category("pregnancy-discrimination"),
        summary="举报区人社局不作为。",
        region=Region.objects.get(name="坪山街道"),
        accused_unit=hr,
    )
    services.dispatch_case(case=accusation, by=pingshan, dispatching_unit=unit_of(pingshan), lead=unit_named("坪山街道劳动监察中队"))
    as_user(client, demo_org["pingshan.hr"])
    assert client.get(reverse("case_detail", args=[accusation.pk])).status_code == 404
    as_user(client, demo_org["pingshan.labour"])
    assert client.get(reverse("case_detail", args=[accusation.pk])).status_code == 200
    # The dispatch page never offers the accused unit.
    as_user(client, pingshan)
    services.return_work_order(work_order=accusation.work_orders.get(), by=demo_org["pingshan.labour"], reason="不属于本队。")
    form = client.get(reverse("case_dispatch", args=[accusation.pk])).context["form"]
    assert hr not in form.fields["lead"].queryset


def test_work_order_tree_shows_her_actions_only(client, demo_org, zhao):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    [district_order] = dispatch_on_suggestion(zhao, city)
    services.sign_for_work_order(work_order=district_order, by=pingshan)
    hr, labour = unit_named("深圳市坪山区人力资源局"), unit_named("坪山街道劳动监察中队")
    children = services.forward_work_order(work_order=district_order, by=pingshan, lead=hr, cohandlers=[labour])
    as_user(client, demo_org["pingshan.hr"])
    page = client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    hr_order = next(o for o in children if o.unit_id == hr.pk)
    labour_order = next(o for o in children if o.unit_id == labour.pk)
    assert reverse("work_order_sign_for", args=[hr_order.pk]) in page
    assert reverse("work_order_return", args=[hr_order.pk]) in page
    assert reverse("work_order_sign_for", args=[labour_order.pk]) not in page
    assert reverse("work_order_forward", args=[district_order.pk]) not in page
    # The tree: the forwarded orders sit under the district's order.
    assert page.index(f'id="work-order-{district_order.pk}"') < page.index(f'id="work-order-{hr_order.pk}"')
    as_user(client, city)
    page = client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    assert "work_order_sign_for" not in page and "/sign-for/" not in page
    assert reverse("case_dispatch", args=[zhao.pk]) not in page  # a lead holds the case


def test_timeline_is_paged_with_load_more(client, demo_org, zhao):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    [order] = dispatch_on_suggestion(zhao, city)
    services.sign_for_work_order(work_order=order, by=pingshan)
    for number in range(25):
        services.add_progress_note(work_order=order, by=pingshan, text=f"进展第{number:02d}条", visibility=Visibility.HANDLING)
    total = CaseEvent.objects.filter(case=zhao).count()
    assert total == 28
    as_user(client, city)
    page = client.get(reverse("case_detail", args=[zhao.pk])).content.decode()
    assert "进展第16条" in page and "进展第17条" not in page
    more = reverse("case_timeline", args=[zhao.pk]) + "?page=2"
    assert f'hx-get="{more}"' in page
    fragment = client.get(more, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in html
    assert "进展第17条" in html and "进展第24条" in html and "进展第16条" not in html
    assert "?page=3" not in html
    # Each entry says which unit and who.
    assert escape(unit_of(pingshan).display_name) in html and pingshan.full_name in html
    # Without htmx the same link is a page of its own.
    full = client.get(more)
    assert full.status_code == 200 and "<html" in full.content.decode()
