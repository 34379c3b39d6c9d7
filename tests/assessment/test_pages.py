"""The assessment pages: the table, the drill-down, the dashboard, exclusions and weights."""

from __future__ import annotations

import json
import re

import pytest

from rightscare.assessment.models import AssessmentWeights, Exclusion, ExclusionStatus
from rightscare.audit.models import AuditEntry
from tests.assessment.dataset import NOW, frozen
from tests.conftest import log_in

MARCH = "period=month&year=2026&month=3"


def _get(client, user, url):
    log_in(client, user)
    with frozen(NOW):
        return client.get(url)


def _post(client, user, url, data):
    log_in(client, user)
    with frozen(NOW):
        return client.post(url, data)


def test_table_shows_every_figure_with_its_drill_down(client, personas, dataset, org) -> None:
    response = _get(client, personas["supervisor"], f"/assessment/?{MARCH}")
    assert response.status_code == 200
    html = response.content.decode()
    street = org.units["pingshan_street"].pk
    assert f"figure=sign_for.num&amp;unit={street}" in html
    assert f"figure=sign_for.den&amp;unit={street}" in html
    assert "80.0%" in html  # the street's on-time sign-for rate
    assert "no ratings yet" in html
    assert "Excluded from this assessment" in html
    assert dataset.cases["W10"].number in html  # the approved exclusion is listed
    assert dataset.cases["longhua"].number not in html


def test_drill_down_lists_exactly_the_counted_work_orders(client, personas, dataset, org) -> None:
    url = f"/assessment/cases/?{MARCH}&figure=overdue&unit={org.units['pingshan_street'].pk}"
    response = _get(client, personas["supervisor"], url)
    assert response.status_code == 200
    numbers = set(re.findall(r"SZ-2026-\d{6}", response.content.decode()))
    assert numbers == {dataset.cases["W2"].number, dataset.cases["W5"].number}


def test_drill_down_refuses_an_unknown_figure_and_a_unit_out_of_scope(client, personas, dataset, org) -> None:
    supervisor = personas["supervisor"]
    assert _get(client, supervisor, f"/assessment/cases/?{MARCH}&figure=address").status_code == 404
    assert _get(client, supervisor, f"/assessment/cases/?{MARCH}&unit={org.units['longhua_street'].pk}").status_code == 404
    assert _get(client, supervisor, f"/assessment/cases/?{MARCH}&unit=abc").status_code == 404


def test_invalid_filters_answer_422_and_show_the_current_month(client, personas, dataset) -> None:
    response = _get(client, personas["supervisor"], "/assessment/?period=custom&start=2026-03-10&end=2026-03-01")
    assert response.status_code == 422
    assert "The end is before the start." in response.content.decode()


def test_dashboard_draws_its_charts_without_inline_script(client, personas, dataset) -> None:
    response = _get(client, personas["supervisor"], f"/dashboard/?{MARCH}")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    for attributes, body in scripts:
        # Either a file from 'self' or data (json_script): never code in the page.
        assert 'src="/static/' in attributes or ('type="application/json"' in attributes and body.strip()), attributes
    assert 'src="/static/vendor/echarts/echarts-5.6.0.min.js"' in html
    assert 'src="/static/js/charts.js"' in html
    assert "cdn" not in html.lower()
    data = json.loads(re.search(r'<script id="dashboard-charts" type="application/json">(.*?)</script>', html, flags=re.S).group(1))
    assert data["trend"]["months"][-1] == "2026-03"
    assert data["trend"]["series"][0]["values"][-1] == 11  # cases registered in March (W1–W11)
    assert 'data-chart="trend"' in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp


def test_exclusion_request_and_decision_through_the_pages(client, personas, dataset) -> None:
    handler, supervisor = personas["handler"], personas["supervisor"]
    case, order = dataset.cases["W5"], dataset.orders["W5"]
    page = _get(client, handler, f"/assessment/exclusions/new/{case.pk}/")
    assert page.status_code == 200
    response = _post(
        client, handler, f"/assessment/exclusions/new/{case.pk}/", {"unit": order.unit_id, "work_order": str(order.pk), "reason": "诉求人多次恶意来电。"}
    )
    assert response.status_code == 302
    exclusion = Exclusion.objects.get(work_order=order)
    assert (exclusion.status, exclusion.requested_by, exclusion.requesting_unit_id) == (ExclusionStatus.PENDING, handler, order.unit_id)
    assert AuditEntry.objects.filter(event="assessment.request_exclusion", object_id=str(exclusion.pk)).count() == 1

    client.logout()
    listing = _get(client, supervisor, "/assessment/exclusions/")
    assert f"/assessment/exclusions/{exclusion.pk}/decide/" in listing.content.decode()
    # Refusing without a note is refused, and nothing changes.
    refused = _post(client, supervisor, f"/assessment/exclusions/{exclusion.pk}/decide/", {"decision": "refuse", "note": ""})
    assert refused.status_code == 422
    exclusion.refresh_from_db()
    assert exclusion.status == ExclusionStatus.PENDING
    approved = _post(client, supervisor, f"/assessment/exclusions/{exclusion.pk}/decide/", {"decision": "approve", "note": "同意。"})
    assert approved.status_code == 302
    exclusion.refresh_from_db()
    assert (exclusion.status, exclusion.decided_by) == (ExclusionStatus.APPROVED, supervisor)
    entry = AuditEntry.objects.get(event="assessment.decide_exclusion", object_id=str(exclusion.pk))
    assert entry.changes == {"status": ["pending", "approved"]}
    # Deciding again is a conflict that changes nothing.
    again = _post(client, supervisor, f"/assessment/exclusions/{exclusion.pk}/decide/", {"decision": "refuse", "note": "改主意。"})
    assert again.status_code == 409
    exclusion.refresh_from_db()
    assert exclusion.status == ExclusionStatus.APPROVED


def test_the_requester_and_other_districts_cannot_decide(client, personas, dataset) -> None:
    pending = dataset.exclusions["pending"]
    assert _post(client, personas["handler"], f"/assessment/exclusions/{pending.pk}/decide/", {"decision": "approve"}).status_code == 403
    client.logout()
    assert _post(client, personas["supervisor_twin"], f"/assessment/exclusions/{pending.pk}/decide/", {"decision": "approve"}).status_code == 404
    pending.refresh_from_db()
    assert pending.status == ExclusionStatus.PENDING


def test_a_second_request_for_the_same_record_is_a_conflict(client, personas, dataset) -> None:
    order = dataset.orders["W1"]  # already has a pending request
    before = Exclusion.objects.count()
    response = _post(
        client,
        personas["handler"],
        f"/assessment/exclusions/new/{order.case_id}/",
        {"unit": order.unit_id, "work_order": str(order.pk), "reason": "再次申请。"},
    )
    assert response.status_code == 409
    assert Exclusion.objects.count() == before


def test_a_unit_cannot_ask_for_a_work_order_it_has_nothing_to_do_with(client, personas, dataset) -> None:
    from rightscare.assessment import services

    hr_order = dataset.orders["W9"]
    with pytest.raises(Exception) as error:
        services.request_exclusion(by=personas["handler"], case=hr_order.case, unit=hr_order.sent_by_unit, reason="x", work_order=hr_order)
    assert type(error.value).__name__ == "PermissionDenied"
    # The street federation sees the case (it lies in its street) but took no part in it: 403.
    assert _get(client, personas["handler"], f"/assessment/exclusions/new/{hr_order.case_id}/").status_code == 403
    client.logout()
    # The Longhua handler cannot even open it: 404.
    assert _get(client, personas["handler_twin"], f"/assessment/exclusions/new/{hr_order.case_id}/").status_code == 404


@pytest.mark.parametrize(("data", "status", "versions"), [({"sign_for": "20"}, 302, 1), ({"sign_for": "101"}, 422, 0), ({}, 422, 0)])
def test_weights_are_saved_as_a_new_version(client, personas, dataset, data, status, versions) -> None:
    weights = dict.fromkeys(("sign_for", "response", "on_time_resolution", "resolution", "satisfaction", "rework", "return_rate", "dispatch_accuracy"), "0")
    weights.update(data)
    response = _post(client, personas["system_admin"], "/assessment/weights/", {**weights, "note": "调整。"})
    assert response.status_code == status
    assert AssessmentWeights.objects.count() == versions
    if versions:
        assert AssessmentWeights.objects.current().as_dict()["sign_for"] == 20
        entry = AuditEntry.objects.get(event="assessment.save_weights")
        assert entry.changes["sign_for"] == [15, 20]
