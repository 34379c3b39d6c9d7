"""The leader's dashboard in a real browser, on a phone-sized screen: the ECharts charts draw under
the Content-Security-Policy (no inline script, nothing from a CDN) and fit the screen; the
assessment table's figures open their work orders."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.assessment.dataset import build_dataset
from tests.e2e.test_sign_in import sign_in

PHONE = {"width": 390, "height": 844}


def test_dashboard_charts_draw_on_a_phone_under_the_csp(page: Page, live_server, org, personas, screenshots) -> None:
    data = build_dataset(org, personas)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.set_viewport_size(PHONE)
    sign_in(page, live_server.url, "supervisor")
    page.goto(f"{live_server.url}/dashboard/?period=month&year=2026&month=3")
    for name in ("trend", "category", "channel", "region"):
        canvas = page.locator(f"[data-chart={name}] canvas")
        expect(canvas).to_have_count(1)
        box = canvas.bounding_box()
        assert box is not None and 0 < box["width"] <= PHONE["width"], (name, box)
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not [p for p in problems if "echarts" in p.lower() or "TypeError" in p], problems
    assert all(url.startswith(live_server.url) for url in requested), [u for u in requested if not u.startswith(live_server.url)]
    page.screenshot(path=str(screenshots / "dashboard-phone.png"), full_page=True)

    # The street federation's overdue figure opens exactly its two overdue work orders.
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{live_server.url}/assessment/?period=month&year=2026&month=3")
    expect(page.locator("table.assessment-table")).to_be_visible()
    page.screenshot(path=str(screenshots / "assessment.png"), full_page=True)
    street = org.units["pingshan_street"].pk
    page.locator(f"a[href*='figure=overdue&unit={street}']").first.click()
    expect(page).to_have_url(re.compile(r"/assessment/cases/\?"))
    main = page.locator("main")
    expect(main).to_contain_text(data.cases["W2"].number)
    expect(main).to_contain_text(data.cases["W5"].number)
    expect(main.locator("tbody tr")).to_have_count(2)
