"""A petitioner on a phone: submits anonymously but contactable, gets a tracking code, follows
her request, then leaves with the quick-exit button — and Back does not bring RightsCare back.

Every public page answers in place or replaces the history entry, so after the form, the
submission and the tracking page in one tab the history holds one RightsCare entry, which
the quick exit replaces.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from rightscare.cases.models import Category
from rightscare.intake.models import Contact

NEUTRAL = "https://www.baidu.com/s?wd=%E5%A4%A9%E6%B0%94"


def test_submit_track_and_quick_exit_on_a_phone(browser: Browser, live_server, org, personas, settings) -> None:
    settings.PUBLIC_QUICK_EXIT_URL = NEUTRAL
    category = Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    # No network in the test: the neutral site is answered here.
    context.route(re.compile(r"https://www\.baidu\.com/.*"), lambda route: route.fulfill(status=200, content_type="text/html", body="<p>天气</p>"))
    page = context.new_page()
    page.goto(f"{live_server.url}/submit/")
    expect(page.locator("a[data-quick-exit]")).to_be_visible()

    page.locator("#id_anonymous").check()
    page.locator("#id_phone").fill("138 0013 8000")
    page.locator("#id_category").select_option(str(category.pk))
    page.locator("#id_description").fill("公司在我怀孕后把我辞退了。")
    page.locator("#id_region").select_option(str(org.regions["pingshan_community"].pk))
    page.locator("#id_may_text").uncheck()
    page.locator("#submit-panel button[type=submit]").click()

    code = page.locator("[data-tracking-code]")
    expect(code).to_have_text(re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$"))
    tracking_code, pin = code.inner_text(), page.locator("[data-tracking-pin]").inner_text()
    assert page.url == f"{live_server.url}/submit/"
    contact = Contact.objects.get()
    assert (contact.channel, contact.review_state, contact.operator_id) == ("web_form", "pending", None)

    page.locator("#submit-panel a[data-replace]").click()
    expect(page).to_have_url(f"{live_server.url}/track/")
    page.locator("#id_code").fill(tracking_code)
    page.locator("#id_pin").fill(pin)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "received")
    expect(page.locator("[data-unit]")).to_have_text(org.units["pingshan"].name)
    # The form, the submission and the tracking page made one history entry after the blank start page.
    assert page.evaluate("history.length") == 2

    page.locator("a[data-quick-exit]").click()
    page.wait_for_url(re.compile(r"https://www\.baidu\.com/"))
    page.go_back()
    page.wait_for_load_state()
    assert not page.url.startswith(live_server.url), page.url
    context.close()
