"""The dispatcher's queues, the unit's inbox and the case search: content, scope and constant query counts."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rightscare.cases import services
from tests.cases.pages import as_user, dispatch_on_suggestion, register_cai, register_zhao, unit_named


def _make_cases(users, count: int, start: int = 0) -> list:
    return [register_zhao(users, summary=f"第{n}件。", phone=f"138 0013 {8100 + n:04d}", name=f"钱{n}") for n in range(start, start + count)]


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize("url_name", ["dispatch_queues", "case_search"])
def test_city_lists_take_the_same_number_of_queries(client, demo_org, django_assert_num_queries, url_name):
    city = demo_org["city.dispatcher"]
    _make_cases(demo_org, 3)
    as_user(client, city)
    url = reverse(url_name)
    baseline = _queries(client, url)
    _make_cases(demo_org, 10, start=3)
    with django_assert_num_queries(baseline):
        response = client.get(url)
    assert response.content.decode().count('href="/cases/') >= 13


def test_inbox_takes_the_same_number_of_queries(client, demo_org, django_assert_num_queries):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    for case in _make_cases(demo_org, 3):
        dispatch_on_suggestion(case, city)
    as_user(client, pingshan)
    url = reverse("work_order_inbox")
    baseline = _queries(client, url)
    for case in _make_cases(demo_org, 10, start=3):
        dispatch_on_suggestion(case, city)
    with django_assert_num_queries(baseline):
        response = client.get(url)
    assert response.context["to_sign"].paginator.count == 13


def test_dispatch_queues_content(client, demo_org):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    waiting, returned, completed = _make_cases(demo_org, 3)
    [returned_order] = dispatch_on_suggestion(returned, city)
    services.return_work_order(work_order=returned_order, by=pingshan, reason="请补充材料。")
    [completed_order] = dispatch_on_suggestion(completed, city)
    services.sign_for_work_order(work_order=completed_order, by=pingshan)
    services.record_first_contact(work_order=completed_order, by=pingshan, note="电话。")
    services.complete_work_order(work_order=completed_order, by=pingshan, result="已解决。")
    as_user(client, city)
    response = client.get(reverse("dispatch_queues"))
    context = response.context
    # The returned case waits for a ruling and is also back in "to dispatch".
    assert {c.pk for c in context["to_dispatch"].object_list} == {waiting.pk, returned.pk}
    assert [o.pk for o in context["returned"].object_list] == [returned_order.pk]
    assert [o.pk for o in context["reviews"].object_list] == [completed_order.pk]
    assert "请补充材料。" in response.content.decode()
    # Not a dispatcher: 403.
    as_user(client, demo_org["pingshan.hr"])
    assert client.get(reverse("dispatch_queues")).status_code == 403


def test_inbox_shows_age_and_late_orders(client, demo_org):
    city = demo_org["city.dispatcher"]
    old, new = _make_cases(demo_org, 2)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=6)):
        [old_order] = dispatch_on_suggestion(old, city)
    [new_order] = dispatch_on_suggestion(new, city)
    as_user(client, demo_org["pingshan.dispatcher"])
    response = client.get(reverse("work_order_inbox"))
    rows = {row.order.pk: row for row in response.context["to_sign_rows"]}
    assert (rows[old_order.pk].age_days, rows[old_order.pk].looks_late) == (6, True)
    assert (rows[new_order.pk].age_days, rows[new_order.pk].looks_late) == (0, False)
    assert list(rows) == [old_order.pk, new_order.pk]
    assert 'class="row--late"' in response.content.decode()
    # Someone with nothing to handle: 403; a handler of another district sees none of it.
    as_user(client, demo_org["city.supervisor"])
    assert client.get(reverse("work_order_inbox")).status_code == 403
    as_user(client, demo_org["guangming.police"])
    assert client.get(reverse("work_order_inbox")).context["to_sign"].paginator.count == 0


def test_search_filters_and_scope(client, demo_org):
    zhao, other = _make_cases(demo_org, 2)
    cai = register_cai(demo_org)
    as_user(client, demo_org["city.dispatcher"])
    url = reverse("case_search")

    def numbers(**params):
        response = client.get(url, params)
        assert response.status_code == 200, response.content.decode()[:500]
        return sorted(c.number for c in response.context["page"].object_list)

    assert numbers(number=zhao.number.lower()) == [zhao.number]
    assert numbers(phone="+86 138-0013-8100") == [zhao.number]
    assert numbers(name="钱1") == [other.number]
    assert numbers(status="registered", category=cai.category.pk) == [cai.number]
    assert numbers(region=unit_named("深圳市坪山区人力资源局").region.pk) == sorted([zhao.number, other.number])
    # A part of a phone number is never searched: the field says so, nothing is listed.
    response = client.get(url, {"phone": "1380013"})
    assert response.status_code == 422
    assert response.context["page"] is None
    assert response.context["form"].errors["phone"]
    # The htmx request gets only the results.
    fragment = client.get(url, {"number": zhao.number}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and zhao.number in fragment
    # Lists never show an address, confidential or not.
    page = client.get(url).content.decode()
    assert "龙华区某小区" not in page and "坪山街道某工业园" not in page
    # A Guangming dispatcher finds nothing of Pingshan or Longhua.
    as_user(client, demo_org["guangming.dispatcher"])
    assert numbers() == []
    assert numbers(number=zhao.number) == []
