"""Zhao's case handled through the pages in a real browser (PRODUCT.md case 1), with the
screenshots of the user guides.

The call reached the Pingshan district federation and is registered through the
services (the hotline flow covers the intake screen). The browser then does the
rest: the district dispatcher dispatches it from her queue to the units the
responsibility list suggests (the district HR bureau leads, the street's
labour-inspection team co-handles), both handlers sign for it from their inbox, the
lead contacts Zhao and writes a public progress note, the co-handler completes, the
lead completes with 130,000 yuan obtained, and the dispatcher accepts both results:
the case is resolved. Before all that, completing an order nobody has signed for is
refused on the page and changes nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from rightscare.audit.models import AuditEntry
from rightscare.cases import services
from rightscare.cases.models import Case, CaseEvent, CaseStatus, Category, EventKind, PartyRole, RequestType, Role, WorkOrder, WorkOrderStatus
from rightscare.org.models import Region, Unit
from rightscare.registry.models import Sex
from rightscare.registry.services import record_person
from tests.e2e.test_hotline_dispatch import demo_org  # noqa: F401 - the demo organisation fixture
from tests.e2e.test_sign_in import sign_in

HR_BUREAU = "深圳市坪山区人力资源局"
LABOUR_TEAM = "坪山街道劳动监察中队"
PUBLIC_NOTE = "已约谈企业负责人，企业同意协商补发被扣工资。"
PUBLIC_TEXT = "承办单位已约谈企业，正在协商补发工资。"
INSTRUCTIONS = "请劳动监察中队协助调查工资发放和劳动合同续签情况。"
LEAD_RESULT = "经调解，企业向赵女士道歉，补发孕期被扣工资并支付赔偿共计130000元，续签劳动合同。"


def unit_of(user) -> Unit:
    return Unit.objects.get(pk=user.memberships.get().unit_id)


def act_as(page: Page, base_url: str, username: str) -> None:
    page.context.clear_cookies()
    sign_in(page, base_url, username)
    expect(page).to_have_url(f"{base_url}/")


def work_order_item(page: Page, order: WorkOrder) -> Locator:
    return page.locator(f"#work-order-{order.pk}")


def expect_message(page: Page, text: str) -> None:
    expect(page.locator(".messages")).to_contain_text(text)


def open_from_inbox(page: Page, base_url: str, case: Case, section: str) -> None:
    """Open the case from the handler's inbox, in the section "to sign for" or "in progress"."""
    page.goto(f"{base_url}/cases/inbox/")
    page.locator(f"section[aria-labelledby={section}]").get_by_role("link", name=case.number).click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/#work-order-\d+$"))


def sign_for(page: Page, order: WorkOrder) -> None:
    item = work_order_item(page, order)
    expect(item.get_by_role("link", name="办结", exact=True)).to_have_count(0)
    item.get_by_role("button", name="签收", exact=True).click()
    expect_message(page, "已签收：该工单现由本单位办理。")
    expect(item.locator(".work-order-status")).to_have_text("已签收")


def record_first_contact(page: Page, order: WorkOrder, note: str) -> None:
    item = work_order_item(page, order)
    item.locator("summary", has_text="登记首次联系").click()
    item.locator(f"#wo{order.pk}-first_contact-note").fill(note)
    item.locator(f"form[action$='/work-orders/{order.pk}/first-contact/'] button[type=submit]").click()
    expect_message(page, "首次联系已登记，工单进入办理中。")
    expect(work_order_item(page, order).locator(".work-order-status")).to_have_text("办理中")


def complete(page: Page, order: WorkOrder, result: str, *, outcomes: list[str], amount: str = "", screenshot: Path | None = None) -> None:
    work_order_item(page, order).get_by_role("link", name="办结", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/cases/work-orders/{order.pk}/complete/$"))
    expect(page.locator("h1")).to_have_text("办结工单")
    expect(page.locator(".notice--warning")).to_have_count(0)
    page.locator("#id_result").fill(result)
    for outcome in outcomes:
        page.locator(f"input[name=outcome_codes][value={outcome}]").check()
    if amount:
        page.locator("#id_amount_yuan").fill(amount)
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/cases/{order.case_id}/#work-order-{order.pk}$"))
    expect_message(page, "工单已办结，派单单位将审核办理结果。")
    expect(work_order_item(page, order).locator(".work-order-status")).to_have_text("已办结")


def accept_result(page: Page, order: WorkOrder) -> None:
    item = work_order_item(page, order)
    item.locator("input[name=decision][value=accept]").check()
    item.locator(f"form[action$='/work-orders/{order.pk}/review/'] button[type=submit]").click()
    expect_message(page, "审核结果已记录。")
    expect(work_order_item(page, order).locator(".work-order-status")).to_have_text("已通过")


def test_zhao_dispatched_handled_by_two_units_and_resolved(page: Page, live_server, demo_org, screenshots) -> None:  # noqa: F811
    url = live_server.url
    dispatcher = demo_org["pingshan.dispatcher"]
    federation = unit_of(dispatcher)
    zhao = record_person(by=dispatcher, unit=federation, name="赵女士", sex=Sex.FEMALE, approximate_age=33, phones=[("138 0013 8021", False)])
    case = services.register_case(
        by=dispatcher,
        unit=federation,
        request_type=RequestType.HELP,
        category=Category.objects.get(code="pregnancy-discrimination", valid_until__isnull=True),
        summary="在公司工作六年，怀孕期间被扣工资、被安排出差；哺乳期公司拒绝续签劳动合同。",
        region=Region.objects.get(name="坪山街道"),
        address="坪山街道某工业园",
        petitioner=zhao,
        parties=[services.PartyInput(role=PartyRole.RESPONDENT, organisation_name="某电子科技有限公司")],
    )

    # The district dispatcher: her queue, then the dispatch form with the suggestion selected.
    act_as(page, url, "pingshan.dispatcher")
    page.get_by_role("navigation").get_by_role("link", name="派单", exact=True).click()
    expect(page).to_have_url(f"{url}/cases/dispatch/")
    queue = page.locator("section[aria-labelledby=queue-dispatch]")
    expect(queue.locator(".badge").first).to_have_text("1")
    expect(queue).to_contain_text(case.number)
    page.screenshot(path=str(screenshots / "dispatch-queue.png"), full_page=True)
    queue.get_by_role("link", name="派单", exact=True).click()
    expect(page).to_have_url(f"{url}/cases/{case.pk}/dispatch/")
    expect(page.locator(".notice--success")).to_contain_text(HR_BUREAU)
    expect(page.locator("#id_lead option:checked")).to_have_text(HR_BUREAU)
    cohandlers = page.locator("input[name=cohandlers]:checked")
    expect(cohandlers).to_have_count(1)
    expect(page.locator(f"label[for={cohandlers.get_attribute('id')}]")).to_have_text(LABOUR_TEAM)
    expect(page.locator("input[name=legal_basis][value=consent]")).to_be_checked()
    page.locator("#id_instructions").fill(INSTRUCTIONS)
    page.screenshot(path=str(screenshots / "dispatch-form.png"), full_page=True)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(f"{url}/cases/{case.pk}/")
    expect_message(page, "诉求件已派单。")
    expect(page.locator(".page-header h1")).to_contain_text("已派单")

    hr_order = WorkOrder.objects.get(case=case, unit__name=HR_BUREAU)
    labour_order = WorkOrder.objects.get(case=case, unit__name=LABOUR_TEAM)
    assert (hr_order.role, hr_order.status, hr_order.sent_by_unit, hr_order.parent) == (Role.LEAD, WorkOrderStatus.SENT, federation, None)
    assert (labour_order.role, labour_order.status, labour_order.sent_by_unit) == (Role.COHANDLER, WorkOrderStatus.SENT, federation)
    assert (hr_order.time_class, hr_order.legal_basis, labour_order.instructions) == ("complex", "consent", INSTRUCTIONS)
    assert WorkOrder.objects.filter(case=case).count() == 2

    # The lead's handler: the order is in her inbox; completing it before signing for is refused.
    act_as(page, url, "pingshan.hr")
    page.get_by_role("navigation").get_by_role("link", name="工单", exact=True).click()
    to_sign = page.locator("section[aria-labelledby=inbox-new]")
    expect(to_sign.locator("tbody tr")).to_have_count(1)
    expect(to_sign.locator("tbody tr")).to_contain_text(case.number)
    expect(to_sign.locator("tbody tr")).to_contain_text("主办")
    expect(to_sign.locator("tbody tr")).to_contain_text("已派发")
    page.screenshot(path=str(screenshots / "inbox.png"), full_page=True)
    open_from_inbox(page, url, case, "inbox-new")
    hr_item = work_order_item(page, hr_order)
    expect(hr_item.get_by_role("button", name="签收", exact=True)).to_be_visible()
    expect(hr_item.get_by_role("link", name="办结", exact=True)).to_have_count(0)
    expect(work_order_item(page, labour_order).get_by_role("button")).to_have_count(0)

    page.goto(f"{url}/cases/work-orders/{hr_order.pk}/complete/")
    expect(page.locator(".notice--warning")).to_contain_text("工单当前状态不允许此操作")
    page.locator("#id_result").fill("已办结。")
    page.locator("#id_amount_yuan").fill("130000")
    with page.expect_response(lambda response: response.request.method == "POST") as refusal:
        page.locator("main form button[type=submit]").click()
    assert refusal.value.status == 409
    alert = page.locator(".notice--error[role=alert]")
    expect(alert).to_contain_text("当前无法进行此操作。")
    expect(alert).to_contain_text("状态为已派发的工单不能办结。")
    expect(alert).to_contain_text("未做任何更改。")
    refused = WorkOrder.objects.get(pk=hr_order.pk)
    assert (refused.status, refused.completed_at, refused.result, refused.amount_yuan, refused.version) == (
        WorkOrderStatus.SENT,
        None,
        "",
        None,
        hr_order.version,
    )
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.COMPLETED).exists()
    assert not AuditEntry.objects.filter(event="cases.complete_work_order").exists()
    assert Case.objects.get(pk=case.pk).status == CaseStatus.DISPATCHED

    open_from_inbox(page, url, case, "inbox-new")
    sign_for(page, hr_order)
    expect(page.locator(".page-header h1")).to_contain_text("办理中")

    # The co-handler's handler signs for its order.
    act_as(page, url, "pingshan.labour")
    open_from_inbox(page, url, case, "inbox-new")
    expect(work_order_item(page, hr_order).get_by_role("button")).to_have_count(0)
    sign_for(page, labour_order)

    # The lead contacts Zhao and writes a progress note for her tracking page.
    act_as(page, url, "pingshan.hr")
    open_from_inbox(page, url, case, "inbox-progress")
    record_first_contact(page, hr_order, "电话联系赵女士（工作日白天），约定面谈时间。")
    hr_item = work_order_item(page, hr_order)
    hr_item.locator("summary", has_text="添加办理进展").click()
    hr_item.locator(f"#wo{hr_order.pk}-note-text").fill(PUBLIC_NOTE)
    hr_item.locator("input[name=visibility][value=public]").check()
    hr_item.locator(f"#wo{hr_order.pk}-note-public_text").fill(PUBLIC_TEXT)
    hr_item.locator(f"form[action$='/work-orders/{hr_order.pk}/note/'] button[type=submit]").click()
    expect_message(page, "办理进展已添加。")
    timeline = page.locator("section[aria-labelledby=case-timeline]")
    note_entry = timeline.locator("li.timeline__entry--note")
    expect(note_entry).to_contain_text(PUBLIC_NOTE)
    expect(note_entry).to_contain_text(PUBLIC_TEXT)
    expect(note_entry.locator(".badge")).to_have_text("公开")
    expect(note_entry.locator(".timeline__who")).to_contain_text(HR_BUREAU)
    expect(timeline.locator("li.timeline__entry--first_contact")).to_contain_text("电话联系赵女士")
    expect(timeline.locator("li.timeline__entry--signed_for")).to_have_count(2)
    page.screenshot(path=str(screenshots / "work-order-in-progress.png"), full_page=True)

    # The co-handler contacts her and completes; then the lead completes with the amount.
    act_as(page, url, "pingshan.labour")
    open_from_inbox(page, url, case, "inbox-progress")
    record_first_contact(page, labour_order, "上门核实工资发放记录，联系赵女士确认。")
    complete(page, labour_order, "已责令企业补发孕期被扣工资，出具劳动监察意见书。", outcomes=["compensated"])

    act_as(page, url, "pingshan.hr")
    open_from_inbox(page, url, case, "inbox-progress")
    complete(page, hr_order, LEAD_RESULT, outcomes=["mediated", "compensated"], amount="130000", screenshot=screenshots / "complete-form.png")
    expect(work_order_item(page, hr_order)).to_contain_text("金额：130000.00元")
    expect(page.locator(".page-header h1")).to_contain_text("办理中")

    # The dispatcher reviews both results from her queue and accepts them.
    act_as(page, url, "pingshan.dispatcher")
    page.goto(f"{url}/cases/dispatch/")
    reviews = page.locator("section[aria-labelledby=queue-review]")
    expect(reviews.locator("tbody tr")).to_have_count(2)
    expect(reviews).to_contain_text(HR_BUREAU)
    expect(reviews).to_contain_text(LABOUR_TEAM)
    expect(page.locator("section[aria-labelledby=queue-dispatch] .empty")).to_be_visible()
    page.screenshot(path=str(screenshots / "review-queue.png"), full_page=True)
    reviews.locator("tbody tr", has_text=HR_BUREAU).get_by_role("link", name=case.number).click()
    expect(page).to_have_url(f"{url}/cases/{case.pk}/#work-order-{hr_order.pk}")
    expect(work_order_item(page, hr_order)).to_contain_text(LEAD_RESULT)
    expect(work_order_item(page, hr_order).locator("input[name=decision][value=accept]")).to_be_visible()
    expect(work_order_item(page, labour_order).locator("input[name=decision][value=accept]")).to_be_visible()
    work_order_item(page, hr_order).locator("input[name=decision][value=accept]").check()
    page.screenshot(path=str(screenshots / "review.png"), full_page=True)
    accept_result(page, labour_order)
    expect(page.locator(".page-header h1")).to_contain_text("办理中")
    accept_result(page, hr_order)
    expect(page.locator(".page-header h1")).to_contain_text("已办结")
    expect(page.locator("#close-title")).to_have_text("所有工单均已办结并审核通过")
    expect(timeline.locator("li.timeline__entry--resolved")).to_have_count(1)
    page.screenshot(path=str(screenshots / "case-resolved.png"), full_page=True)

    case = Case.objects.get(pk=case.pk)
    assert case.status == CaseStatus.RESOLVED and case.resolved_at is not None
    hr_order, labour_order = WorkOrder.objects.get(pk=hr_order.pk), WorkOrder.objects.get(pk=labour_order.pk)
    assert (hr_order.status, hr_order.amount_yuan, hr_order.outcome_codes, hr_order.result) == (
        WorkOrderStatus.ACCEPTED,
        Decimal("130000.00"),
        ["mediated", "compensated"],
        LEAD_RESULT,
    )
    assert (labour_order.status, labour_order.amount_yuan, labour_order.outcome_codes) == (WorkOrderStatus.ACCEPTED, None, ["compensated"])
    assert (hr_order.signed_by, labour_order.signed_by) == (demo_org["pingshan.hr"], demo_org["pingshan.labour"])
    events = [
        (e.kind, e.unit.name if e.unit else None, e.work_order.unit.name if e.work_order else None, e.actor.username if e.actor else None)
        for e in CaseEvent.objects.filter(case=case).select_related("unit", "work_order__unit", "actor").order_by("at", "id")
    ]
    assert events == [
        (EventKind.REGISTERED, federation.name, None, "pingshan.dispatcher"),
        (EventKind.DISPATCHED, federation.name, None, "pingshan.dispatcher"),
        (EventKind.SIGNED_FOR, HR_BUREAU, HR_BUREAU, "pingshan.hr"),
        (EventKind.SIGNED_FOR, LABOUR_TEAM, LABOUR_TEAM, "pingshan.labour"),
        (EventKind.FIRST_CONTACT, HR_BUREAU, HR_BUREAU, "pingshan.hr"),
        (EventKind.NOTE, HR_BUREAU, HR_BUREAU, "pingshan.hr"),
        (EventKind.FIRST_CONTACT, LABOUR_TEAM, LABOUR_TEAM, "pingshan.labour"),
        (EventKind.COMPLETED, LABOUR_TEAM, LABOUR_TEAM, "pingshan.labour"),
        (EventKind.COMPLETED, HR_BUREAU, HR_BUREAU, "pingshan.hr"),
        (EventKind.ACCEPTED, federation.name, LABOUR_TEAM, "pingshan.dispatcher"),
        (EventKind.ACCEPTED, federation.name, HR_BUREAU, "pingshan.dispatcher"),
        (EventKind.RESOLVED, None, None, None),
    ]
    note = CaseEvent.objects.get(case=case, kind=EventKind.NOTE)
    assert (note.visibility, note.text, note.public_text) == ("public", PUBLIC_NOTE, PUBLIC_TEXT)
    assert AuditEntry.objects.filter(event="cases.complete_work_order").count() == 2
