"""The reminders in the unit's inbox: exactly ``chasing.chases_to_answer``, each with its own answer form.

``board_views.inbox_chases`` finds them through her units' work orders (all of them, not
only the open ones: a reminder still waits for its answer after the work order is done) and
renders the answer form's fields once for the whole list; every chase must still get its own
ids, its own idempotency key and its own links.
"""

from __future__ import annotations

import re

import time_machine
from django.urls import reverse

from rightscare.cases import services
from rightscare.supervision import chasing
from rightscare.supervision.board_views import inbox_chases
from tests.conftest import log_in
from tests.supervision.chasing_helpers import dispatched_order, local, messages_in_english  # noqa: F401 - autouse


def test_the_inbox_shows_every_reminder_to_answer_each_with_its_own_form(client, org, personas):
    handler = personas["handler"]
    with time_machine.travel(local(2026, 3, 2, 10), tick=False):
        orders = [dispatched_order(org, personas, summary=f"第{n}件。") for n in range(3)]
        chases = [chasing.send_reminder(work_order=order, by=personas["supervisor"], comment=f"请说明第{n}件。") for n, order in enumerate(orders)]
        chasing.send_reminder(work_order=orders[2], by=personas["supervisor"])  # no comment: asks for no answer
        # The first work order is done before its reminder is answered: the reminder still waits.
        services.sign_for_work_order(work_order=orders[0], by=handler)
        services.record_first_contact(work_order=orders[0], by=handler, note="电话联系。")
        services.complete_work_order(work_order=orders[0], by=handler, result="已解决。")
        items = inbox_chases(handler)
    assert [item.chase.pk for item in items] == [chase.pk for chase in chasing.chases_to_answer(by=handler)] == [chase.pk for chase in chases]
    keys = set()
    for item in items:
        chase = item.chase
        assert item.case_url == f"{reverse('case_detail', args=[chase.work_order.case_id])}#work-order-{chase.work_order_id}"
        assert item.answer_url == reverse("chase_answer", args=[chase.pk])
        assert f'id="answer-{chase.pk}-answer"' in item.fields and f'for="answer-{chase.pk}-answer"' in item.fields
        [key] = re.findall(rf'name="idempotency_key" value="([0-9a-f]{{32}})" id="answer-{chase.pk}-idempotency_key"', item.fields)
        keys.add(key)
        assert "__chase_pk__" not in item.fields and "__idempotency_key__" not in item.fields
    assert len(keys) == len(items)
    # Nobody else's reminders; none for someone who handles nothing.
    assert inbox_chases(personas["supervisor"]) == []

    log_in(client, handler)
    page = client.get(reverse("work_order_inbox")).content.decode()
    for item in items:
        assert f'<li class="card chase chase--reminder" id="chase-{item.chase.pk}">' in page
        assert f'href="{item.case_url}">{item.chase.work_order.case.number}</a>' in page
        assert f'<form method="post" action="{item.answer_url}" class="form">' in page
        assert item.chase.comment in page
    assert page.count('name="csrfmiddlewaretoken"') >= len(items)
    assert len(set(re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', page))) == len(items)
