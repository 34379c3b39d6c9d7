"""A hotline call recorded and dispatched on the suggested units, counting every interaction.

Each click and each field filled counts one (Tab and Enter that only move focus are
free). The count starts on the intake page after login. Zhao's call: a new caller,
a labour-rights category, a Pingshan address, dispatched at once on the units the
responsibility list suggests — in at most 12 interactions.
"""

from __future__ import annotations

import io
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from rightscare.cases.models import Case, WorkOrder
from rightscare.core import identity
from rightscare.org.models import User
from rightscare.registry.models import PersonPhone
from tests.e2e.test_sign_in import sign_in
from tests.factories import PASSWORD

MAX_INTERACTIONS = 12


class CountingPage:
    """Wraps a page: every fill, click, check and selection counts as one interaction."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0

    def fill(self, selector: str, value: str) -> None:
        self.count += 1
        self.page.locator(selector).fill(value)

    def select(self, selector: str, value: str) -> None:
        self.count += 1
        self.page.locator(selector).select_option(value)

    def check(self, selector: str) -> None:
        self.count += 1
        self.page.locator(selector).check()

    def click(self, selector: str) -> None:
        self.count += 1
        self.page.locator(selector).click()


@pytest.fixture
def demo_org(transactional_db):
    from rightscare.cases.models import Category
    from rightscare.cases.taxonomy import seed_categories
    from rightscare.org.demo import load_demo

    # Browser tests commit their data and the database is emptied after each one,
    # migration-seeded rows included: put the taxonomy back first.
    seed_categories(Category)
    with mock.patch("rightscare.org.demo.DEMO_EXTENSIONS", ("tests.cases.conftest.load_rules_only",)):
        load_demo(stdout=io.StringIO())
    for user in User.objects.all():
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    return {user.username: user for user in User.objects.all()}


def test_hotline_call_dispatched_in_at_most_twelve_interactions(page: Page, live_server, demo_org, screenshots) -> None:
    sign_in(page, live_server.url, "city.dispatcher")
    page.goto(f"{live_server.url}/intake/")
    expect(page.locator("#id_caller_phone")).to_be_focused()
    street = page.locator("#id_region option", has_text="坪山街道").first.get_attribute("value")
    category = page.locator("#id_category option", has_text="孕期、产期、哺乳期权益").first.get_attribute("value")
    assert street and category

    ui = CountingPage(page)
    ui.fill("#id_caller_phone", "138 0013 8021")
    ui.fill("#id_caller_name", "赵女士")
    ui.fill("#id_content", "怀孕期间被扣工资、安排出差，哺乳期公司拒绝续签劳动合同。")
    ui.select("#id_category", category)
    ui.select("#id_region", street)
    ui.fill("#id_address", "坪山街道某工业园")
    expect(page.locator("#suggested-units")).to_contain_text("坪山区妇联")
    page.screenshot(path=str(screenshots / "intake.png"), full_page=True)
    ui.check("#id_dispatch_now")
    ui.click("button[name=action][value=save]")
    expect(page).to_have_url(__import__("re").compile(r"/cases/\d+/$"))
    expect(page.locator("main")).to_contain_text("SZ-")

    assert ui.count <= MAX_INTERACTIONS
    case = Case.objects.get()
    assert (case.category.code, case.region.name, case.status) == ("pregnancy-discrimination", "坪山街道", "dispatched")
    phone_rows = PersonPhone.objects.filter(person=case.petitioner)
    assert [row.phone for row in phone_rows] == [identity.normalise_phone("13800138021")]
    orders = list(WorkOrder.objects.filter(case=case).values_list("unit__name", "role", "status"))
    assert orders == [("坪山区妇联", "lead", "sent")]
