"""Signing in, switching language and being locked out, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD


def sign_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()


def test_community_worker_signs_in_in_chinese_and_switches_to_english(page: Page, live_server, personas, screenshots) -> None:
    personas["community_worker"].full_name = "林晓梅"
    personas["community_worker"].save()
    sign_in(page, live_server.url, "community_worker")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    main = page.locator("main")
    expect(main).to_contain_text("六和社区居委会")
    expect(main).to_contain_text("社区工作者")
    expect(main).not_to_contain_text("景龙社区居委会")
    page.screenshot(path=str(screenshots / "home.png"), full_page=True)

    page.locator("form.language-switcher button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(main).to_contain_text("Community worker")
    expect(main).to_contain_text("六和社区居委会")
    expect(main).not_to_contain_text("景龙社区居委会")
    page.screenshot(path=str(screenshots / "home-en.png"), full_page=True)


def test_wrong_password_shows_clear_message(page: Page, live_server, personas) -> None:
    sign_in(page, live_server.url, "dispatcher", "not-the-password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")


def test_lockout_message_after_repeated_failures(page: Page, live_server, personas, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(page, live_server.url, "dispatcher", "not-the-password")
    sign_in(page, live_server.url, "dispatcher")
    expect(page.get_by_role("alert")).to_contain_text("登录失败次数过多")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
