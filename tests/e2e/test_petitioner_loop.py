"""The petitioner's whole loop on a phone (issue 6, the first test that must exist).

A worker like Zhao (PRODUCT.md case 1) submits anonymously but contactable — her phone,
"you may call me", no text messages — from the public form on a 390×844 phone, and keeps
the tracking code and PIN shown in place. Staff handle it through the real service layer:
the Pingshan district federation's dispatcher confirms the submission into a case and
dispatches it as the responsibility list suggests (the district HR bureau leads, the
street's labour-inspection team co-handles); both sign for it, the lead calls her and writes
a public progress note, both complete, the dispatcher accepts both results: resolved.
Meanwhile she follows it on ``/track/`` with code and PIN: the status in plain words,
the responsible unit (never a person), the public note. Resolved, the rating form appears
in her tracking page; she rates it "not solved", speed 2, quality 1 (htmx, in place). The
dispatcher sends it back for rework on the rework page, and her tracking page shows it
being handled again — the lead work order in progress with a new resolution clock.

Every public page answers in place or replaces its history entry: at the end her tab
still holds the blank start page and one RightsCare entry.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import formats, timezone, translation
from playwright.sync_api import Browser, Page, expect

from rightscare.cases import services as case_services
from rightscare.cases.models import Case, CaseEvent, CaseStatus, Category, EventKind, RequestType, Role, Visibility, WorkOrder, WorkOrderStatus
from rightscare.intake.models import Contact, ReviewState
from rightscare.org.models import Region, Unit
from rightscare.petitioners import services as petitioner_services
from rightscare.petitioners.models import TrackingCode
from rightscare.ratings.models import Rating, RatingRound, ReturnVisitReason, RoundStatus
from rightscare.registry.models import Person
from rightscare.supervision.models import ClockKind, WorkOrderClock
from tests.e2e.test_hotline_dispatch import demo_org  # noqa: F401 - the demo organisation fixture
from tests.e2e.test_sign_in import sign_in

HR_BUREAU = "深圳市坪山区人力资源局"
LABOUR_TEAM = "坪山街道劳动监察中队"
DESCRIPTION = "我在公司工作六年，怀孕后公司扣了我的工资，还安排我出差。"
INTERNAL_NOTE = "企业负责人态度消极，内部记录：需再次约谈。"
PUBLIC_NOTE = "承办单位已约谈企业，正在协商补发工资。"
COMMENT = "工资还没有补发，问题没有解决。"
REWORK_REASON = "申请人反映工资仍未补发，请重新办理并督促企业履行协议。"
#: The staff who handled the case, by display name and username: never on her page.
STAFF = ("黄丽华", "张伟", "王强", "pingshan.dispatcher", "pingshan.hr", "pingshan.labour")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The public pages' rate limits live in the cache, which outlives a test's database."""
    cache.clear()
    yield
    cache.clear()


def label(state: str) -> str:
    """The plain-words status as the petitioner reads it (her page is in Chinese)."""
    with translation.override("zh-hans"):
        return str(petitioner_services._LABELS[state])


def in_chinese(msgid: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def date_text(instant) -> str:
    with translation.override("zh-hans"):
        return formats.date_format(timezone.localtime(instant), "DATE_FORMAT")


def look_up(page: Page, state: str) -> None:
    """Press "look it up" again (the code and PIN stay in the form): the result is swapped in place."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/track/")) as answer:
        page.locator("main form[action$='/track/'] button[type=submit]").click()
    assert answer.value.status == 200
    status = page.locator("#track-result [data-status]")
    expect(status).to_have_attribute("data-status", state)
    expect(status).to_have_text(label(state))


def expect_no_staff_names(page: Page) -> None:
    text = page.locator("body").inner_text()
    for name in STAFF:
        assert name not in text, name


def lead_clock(order: WorkOrder) -> WorkOrderClock:
    return WorkOrderClock.objects.get(work_order=order, kind=ClockKind.RESOLUTION)


def test_submit_follow_rate_unsatisfied_and_see_rework_on_a_phone(browser: Browser, live_server, demo_org, screenshots) -> None:  # noqa: F811
    url = live_server.url
    dispatcher, hr, labour = demo_org["pingshan.dispatcher"], demo_org["pingshan.hr"], demo_org["pingshan.labour"]
    federation = Unit.objects.get(pk=dispatcher.memberships.get().unit_id)
    category = Category.objects.get(code="pregnancy-discrimination", valid_until__isnull=True)
    street = Region.objects.get(name="坪山街道")

    # --- 1. She submits on her phone: anonymous, her phone, "may call", no texts. ---
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = phone.new_page()
    page.goto(f"{url}/submit/")
    page.locator("#id_anonymous").check()
    page.locator("#id_phone").fill("138 0013 8021")
    page.locator("#id_category").select_option(str(category.pk))
    page.locator("#id_description").fill(DESCRIPTION)
    page.locator("#id_region").select_option(str(street.pk))
    page.locator("#id_address").fill("坪山街道某工业园")
    expect(page.locator("#id_may_call")).to_be_checked()
    expect(page.locator("#id_may_text")).not_to_be_checked()
    page.locator("#submit-panel button[type=submit]").click()
    code_shown = page.locator("[data-tracking-code]")
    expect(code_shown).to_have_text(re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$"))
    code, pin = code_shown.inner_text(), page.locator("[data-tracking-pin]").inner_text()
    assert re.fullmatch(r"\d{6}", pin)
    assert page.url == f"{url}/submit/"

    contact = Contact.objects.select_related("submission").get()
    assert (contact.channel, contact.review_state, contact.operator_id, contact.unit_id) == ("web_form", ReviewState.PENDING, None, federation.pk)
    assert (contact.submission.anonymous, contact.submission.name, contact.submission.may_call, contact.submission.may_text) == (True, "", True, False)
    assert (contact.submission.category, contact.submission.region, contact.content) == (category, street, DESCRIPTION)
    tracking = TrackingCode.objects.get()
    assert (tracking.contact_id, tracking.case_id) == (contact.pk, None)

    # She follows it: the link replaces the history entry, the look-up answers in place.
    page.locator("#submit-panel a[data-replace]").click()
    expect(page).to_have_url(f"{url}/track/")
    page.locator("#id_code").fill(code)
    page.locator("#id_pin").fill(pin)
    look_up(page, "received")
    expect(page.locator("[data-unit]")).to_have_text(federation.name)

    # --- 2. Staff handle it through the services, she follows on her page. ---
    assert petitioner_services.pending_submissions_for(dispatcher).get() == contact
    case = petitioner_services.confirm_submission(
        contact=contact,
        by=dispatcher,
        unit=federation,
        request_type=RequestType.HELP,
        category=category,
        region=street,
        summary="怀孕期间被扣工资、被安排出差。",
        address="坪山街道某工业园",
    )
    petitioner = Person.objects.get(pk=case.petitioner_id)
    safe = petitioner.safe_contact
    assert (petitioner.name, safe.may_call, safe.may_text) == ("", True, False)
    assert TrackingCode.objects.get().case_id == case.pk
    look_up(page, "registered")

    suggestion = case_services.suggest_dispatch(dispatching_unit=federation, category=category, region=street)
    assert suggestion.lead is not None and suggestion.lead.name == HR_BUREAU
    assert [unit.name for unit in suggestion.cohandlers] == [LABOUR_TEAM]
    hr_order, labour_order = case_services.dispatch_case(
        case=case, by=dispatcher, dispatching_unit=federation, lead=suggestion.lead, cohandlers=suggestion.cohandlers, time_class=suggestion.time_class
    )
    assert (hr_order.role, labour_order.role) == (Role.LEAD, Role.COHANDLER)
    first_due = lead_clock(hr_order).due_at
    look_up(page, "sent")
    expect(page.locator("[data-unit]")).to_have_text(HR_BUREAU)
    expect(page.locator("[data-expected]")).to_have_text(date_text(first_due))

    hr_order = case_services.sign_for_work_order(work_order=hr_order, by=hr)
    labour_order = case_services.sign_for_work_order(work_order=labour_order, by=labour)
    hr_order = case_services.record_first_contact(work_order=hr_order, by=hr, note="电话联系申请人（工作日白天），约定面谈时间。")
    case_services.add_progress_note(work_order=hr_order, by=hr, text=INTERNAL_NOTE)
    hr_order = case_services.add_progress_note(work_order=hr_order, by=hr, text="已约谈企业负责人。", visibility=Visibility.PUBLIC, public_text=PUBLIC_NOTE)
    look_up(page, "in_progress")
    expect(page.locator("[data-unit]")).to_have_text(HR_BUREAU)
    timeline = page.locator("#track-result .public-timeline")
    expect(timeline.locator("li", has_text=PUBLIC_NOTE)).to_have_count(1)
    expect(timeline).to_contain_text(in_chinese("Your request has been sent to the responsible units."))
    expect(page.locator("#track-result")).not_to_contain_text(INTERNAL_NOTE)
    expect(page.locator("#rating-panel")).to_have_count(0)
    expect_no_staff_names(page)

    labour_order = case_services.record_first_contact(work_order=labour_order, by=labour, note="上门核实工资发放记录。")
    labour_order = case_services.complete_work_order(work_order=labour_order, by=labour, result="已责令企业补发孕期被扣工资。", outcome_codes=["compensated"])
    hr_order = case_services.complete_work_order(work_order=hr_order, by=hr, result="经调解，企业同意补发工资。", outcome_codes=["mediated"])
    look_up(page, "in_progress")
    case_services.review_work_order(work_order=labour_order, by=dispatcher, accept=True)
    case_services.review_work_order(work_order=hr_order, by=dispatcher, accept=True)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    first_round = RatingRound.objects.get(case=case)
    assert (first_round.number, first_round.status) == (1, RoundStatus.OPEN)

    # --- 3. Resolved: the rating form is on her tracking page; she is not satisfied. ---
    look_up(page, "resolved")
    expect(page.locator("[data-unit]")).to_have_text(HR_BUREAU)
    panel = page.locator("#track-result #rating-panel")
    expect(panel).to_be_visible()
    expect_no_staff_names(page)
    panel.locator("input[name=solved][value=no]").check()
    panel.locator("input[name=speed][value='2']").check()
    panel.locator("input[name=quality][value='1']").check()
    panel.locator("textarea[name=comment]").fill(COMMENT)
    # From the top: the quick-exit bar is fixed to the top of the screen.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "tracking-rating.png"), full_page=True)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/ratings/public/rate/")) as answer:
        panel.locator("button[type=submit]").click()
    assert answer.value.status == 200
    expect(page.locator("#rating-panel [role=status]")).to_be_visible()
    expect(page.locator("#rating-panel form")).to_have_count(0)
    # The answer replaced the panel in place: the tracking result around it is still there.
    expect(page.locator("#track-result [data-status]")).to_have_attribute("data-status", "resolved")
    assert page.url == f"{url}/track/"

    rating = Rating.objects.get()
    assert (rating.case_id, rating.round_number, rating.solved, rating.speed, rating.quality, rating.comment, rating.channel) == (
        case.pk,
        1,
        "no",
        2,
        1,
        COMMENT,
        "public",
    )
    assert (rating.taken_by, rating.taken_by_unit, rating.satisfied, rating.needs_return_visit) == (None, None, False, True)
    first_round.refresh_from_db()
    assert (first_round.status, first_round.return_visit_reason) == (RoundStatus.RATED, ReturnVisitReason.UNSATISFIED)
    rated = CaseEvent.objects.get(case=case, kind=EventKind.RATED)
    assert (rated.actor, rated.visibility, rated.data["solved"], rated.data["speed"], rated.data["quality"]) == (None, Visibility.PUBLIC, "no", 2, 1)

    # Looking it up again: rated, no form any more, her thanks in the progress list.
    look_up(page, "resolved")
    expect(page.locator("#rating-panel")).to_have_count(0)
    expect(page.locator("#track-result .public-timeline")).to_contain_text(in_chinese("Thank you: your rating has been recorded."))

    # --- 4. The dispatcher sends it back for rework on the rework page (her desk, another browser). ---
    # As if the first round of handling had started four weeks ago: its deadline has passed,
    # so only a new clock (not the old one carried on) gives her a date in the future.
    weeks = timedelta(weeks=4)
    old = lead_clock(hr_order)
    WorkOrderClock.objects.filter(pk=old.pk).update(started_at=old.started_at - weeks, due_at=old.due_at - weeks, original_due_at=old.original_due_at - weeks)
    first_due = old.due_at - weeks
    desk = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 860})
    staff_page = desk.new_page()
    sign_in(staff_page, url, "pingshan.dispatcher")
    expect(staff_page).to_have_url(f"{url}/")
    staff_page.goto(f"{url}/cases/{case.pk}/rework/")
    expect(staff_page.locator("main")).to_contain_text(COMMENT)
    before_rework = timezone.now()
    staff_page.locator("#id_reason").fill(REWORK_REASON)
    staff_page.locator("main form button[type=submit]").click()
    expect(staff_page).to_have_url(f"{url}/cases/{case.pk}/")
    desk.close()

    case.refresh_from_db()
    assert (case.status, case.resolved_at) == (CaseStatus.IN_PROGRESS, None)
    hr_order, labour_order = WorkOrder.objects.get(pk=hr_order.pk), WorkOrder.objects.get(pk=labour_order.pk)
    assert (hr_order.status, labour_order.status) == (WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ACCEPTED)
    rework = CaseEvent.objects.get(case=case, kind=EventKind.REWORK)
    assert (rework.actor, rework.unit, rework.work_order_id, rework.text, rework.data) == (dispatcher, federation, hr_order.pk, REWORK_REASON, {"round": 1})
    assert CaseEvent.objects.filter(case=case, kind=EventKind.REOPENED).count() == 1
    clock = lead_clock(hr_order)
    assert (clock.restarts, clock.stopped_at, clock.breached) == (1, None, False)
    assert clock.started_at >= before_rework and clock.due_at > first_due
    first_round.refresh_from_db()
    assert first_round.return_visit_done_at is not None
    assert Rating.objects.count() == 1 and RatingRound.objects.filter(case=case).count() == 1

    # Her page: being handled again by the HR bureau, with the new expected date and the public messages.
    look_up(page, "in_progress")
    expect(page.locator("[data-unit]")).to_have_text(HR_BUREAU)
    expect(page.locator("[data-expected]")).to_have_text(date_text(clock.due_at))
    assert date_text(clock.due_at) != date_text(first_due)
    timeline = page.locator("#track-result .public-timeline")
    expect(timeline).to_contain_text(in_chinese("Your request has been sent back to the responsible unit to be handled again."))
    expect(timeline).to_contain_text(PUBLIC_NOTE)
    expect(page.locator("#track-result")).not_to_contain_text(REWORK_REASON)
    expect(page.locator("#rating-panel")).to_have_count(0)
    expect_no_staff_names(page)

    # --- 5. No page of hers added a history entry: the blank start page and one RightsCare entry. ---
    assert page.evaluate("history.length") == 2
    assert Case.objects.count() == 1 and Contact.objects.count() == 1
    phone.close()
