"""The Cai family's case moves from Longhua to Guangming in a real browser, and its new address
stays with the units that now handle it (PRODUCT.md case 2).

The case is set up through the services up to joint handling in Longhua; the browser
then does the transfer request, the receiving side's acceptance, and checks what each
side sees.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from rightscare.cases import services
from rightscare.cases.models import Case, Category, LegalBasis, PartyRole, RequestType, Transfer, WorkOrder
from rightscare.org.models import Region, Unit
from tests.e2e.test_hotline_dispatch import demo_org  # noqa: F401 - the demo organisation fixture
from tests.e2e.test_sign_in import sign_in

NEW_ADDRESS = "光明区某小区7栋（保密）"


def unit_of(user) -> Unit:
    return Unit.objects.get(pk=user.memberships.get().unit_id)


def test_transfer_to_guangming_keeps_the_new_address_from_longhua(page: Page, live_server, demo_org, screenshots) -> None:  # noqa: F811
    longhua, guangming, police = demo_org["longhua.dispatcher"], demo_org["guangming.dispatcher"], demo_org["longhua.police"]
    longhua_unit = unit_of(longhua)
    case = services.register_case(
        by=longhua,
        unit=longhua_unit,
        request_type=RequestType.HELP,
        category=Category.objects.get(code="dv-with-children", valid_until__isnull=True),
        summary="医院强制报告：16岁女孩受伤住院，父亲长期家暴。",
        region=longhua_unit.region,
        address="龙华区某小区",
        parties=[services.PartyInput(role=PartyRole.REPORTER, organisation_name="龙华区人民医院", confidential=True)],
        police_notified=True,
    )
    suggestion = services.suggest_dispatch(dispatching_unit=longhua_unit, category=case.category, region=case.region)
    for order in services.dispatch_case(
        case=case, by=longhua, dispatching_unit=longhua_unit, lead=suggestion.lead, cohandlers=suggestion.cohandlers, legal_basis=LegalBasis.STATUTORY_DUTY
    ):
        actor = police if order.unit.kind.code == "public-security" else longhua
        services.sign_for_work_order(work_order=order, by=actor)

    guangming_unit = unit_of(guangming)
    new_region = Region.objects.filter(parent=guangming_unit.region).order_by("code").first()
    assert new_region is not None

    sign_in(page, live_server.url, "longhua.dispatcher")
    page.goto(f"{live_server.url}/cases/{case.pk}/transfer/")
    page.locator("#id_to_unit").select_option(str(guangming_unit.pk))
    page.locator("#id_reason").fill("调解后母亲带五个孩子搬到光明区居住。")
    page.locator("#id_new_region").select_option(str(new_region.pk))
    page.locator("#id_new_address").fill(NEW_ADDRESS)
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/$"))
    transfer = Transfer.objects.get(case=case)
    assert transfer.status == "pending"

    page.context.clear_cookies()
    sign_in(page, live_server.url, "guangming.dispatcher")
    page.goto(f"{live_server.url}/cases/transfers/{transfer.pk}/")
    page.locator("input[name=decision][value=accept]").check()
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/$"))
    expect(page.locator("main")).to_contain_text(NEW_ADDRESS)
    page.screenshot(path=str(screenshots / "case-transferred.png"), full_page=True)

    page.context.clear_cookies()
    sign_in(page, live_server.url, "longhua.dispatcher")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    main = page.locator("main")
    expect(main).to_contain_text(case.number)
    expect(main).not_to_contain_text(NEW_ADDRESS)
    expect(main).not_to_contain_text(new_region.name)

    case = Case.objects.get(pk=case.pk)
    assert (case.region, case.address, case.location_confidential) == (new_region, NEW_ADDRESS, True)
    assert sorted(WorkOrder.objects.filter(case=case).values_list("unit__name", "status")) == sorted(
        [(o.unit.name, "transferred") for o in WorkOrder.objects.filter(case=case, unit__region=longhua_unit.region)] + [(guangming_unit.name, "signed")]
    )
