"""A work order goes overdue, the supervisor chases it from the board, the unit answers from its inbox.

Time is moved forward with time-machine: the live server runs in a thread of this process,
so it reads the same frozen clock. The work order is sent on Monday 2 March 2026 at 10:00
and left alone; the sweep runs on Thursday 5 March at 18:00 (the sign-for deadline passed
on Tuesday: an automatic reminder, and two working days later supervision by the Pingshan
district federation); the people sign in an hour later.
"""

from __future__ import annotations

import re

import time_machine
from playwright.sync_api import Page, expect

from rightscare.cases.models import Category
from rightscare.cases.taxonomy import seed_categories
from rightscare.supervision.models import Chase, ChaseLevel
from rightscare.supervision.sweep import sweep
from tests.e2e.test_sign_in import sign_in
from tests.supervision.chasing_helpers import dispatched_order, local

COMMENT = "三天未签收，请说明原因并于今日签收。"
ANSWER = "经办人外出培训，已安排专人今日签收并联系当事人。"


def test_the_supervisor_chases_an_overdue_work_order_and_reads_the_answer(page: Page, live_server, org, personas, screenshots) -> None:
    # Browser tests empty the database after each test, migration-seeded rows included.
    seed_categories(Category)
    personas["supervisor"].full_name = "何建华"
    personas["supervisor"].save(update_fields=["full_name"])
    personas["handler"].full_name = "林晓梅"
    personas["handler"].save(update_fields=["full_name"])
    with time_machine.travel(local(2026, 3, 2, 10), tick=False):
        order = dispatched_order(org, personas, summary="公司拖欠三个月工资，孕期被要求离职。")
    with time_machine.travel(local(2026, 3, 5, 18), tick=False):
        report = sweep()
    assert (report.reminders, report.supervisions) == (2, 1)

    with time_machine.travel(local(2026, 3, 5, 19), tick=False):
        sign_in(page, live_server.url, "supervisor")
        page.goto(f"{live_server.url}/supervision/board/")
        row = page.locator(f"#work-order-{order.pk}")
        expect(row).to_contain_text(order.case.number)
        expect(row).to_contain_text("坪山街道妇联")
        expect(row).to_contain_text("2.0")
        expect(page.locator("main")).not_to_contain_text("龙华")
        row.locator("textarea[name=comment]").fill(COMMENT)
        page.screenshot(path=str(screenshots / "supervision-board.png"), full_page=True)
        row.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(rf"/supervision/board/#work-order-{order.pk}$"))
        expect(page.locator(f"#work-order-{order.pk}")).to_contain_text(COMMENT)
        chase = Chase.objects.get(automatic=False)
        assert (chase.level, chase.by, chase.comment, chase.needs_answer) == (ChaseLevel.REMINDER, personas["supervisor"], COMMENT, True)

        page.context.clear_cookies()
        sign_in(page, live_server.url, "handler")
        page.goto(f"{live_server.url}/cases/inbox/")
        item = page.locator(f"#chase-{chase.pk}")
        expect(item).to_contain_text(COMMENT)
        expect(item).to_contain_text(order.case.number)
        item.locator("textarea[name=answer]").fill(ANSWER)
        page.screenshot(path=str(screenshots / "chase-answer.png"), full_page=True)
        item.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/cases/inbox/$"))
        expect(page.locator(f"#chase-{chase.pk}")).to_have_count(0)
        chase.refresh_from_db()
        assert (chase.answer, chase.answered_by) == (ANSWER, personas["handler"])

        page.context.clear_cookies()
        sign_in(page, live_server.url, "supervisor")
        page.goto(f"{live_server.url}/supervision/board/")
        expect(page.locator(f"#work-order-{order.pk} #chase-{chase.pk}")).to_contain_text(ANSWER)
        expect(page.locator("#board-answers").locator("..")).to_contain_text(ANSWER)
