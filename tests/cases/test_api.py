"""The cases API: Zhao's case played through the API alone, refusals that change nothing,
idempotent creation, scope, confidential locations and constant query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rightscare.cases import services
from rightscare.cases.models import Case, CaseStatus, Category, EventKind, RequestType, WorkOrder
from rightscare.org.models import Region, Unit
from tests.api_client import ApiClient, error_fields
from tests.case_scenarios import build_case_targets, case_fingerprint
from tests.cases.test_zhao_case import unit_of


@pytest.fixture
def targets(org, personas) -> dict[str, Any]:
    return build_case_targets(org, personas)


@pytest.fixture
def as_user(client):
    def _as(user) -> ApiClient:
        return ApiClient(client, user)

    return _as


# --- Zhao's case, end to end --------------------------------------------------------------


def test_zhao_case_played_through_the_api(demo_org, as_user):
    """Hotline call at the city federation → Pingshan district federation → HR bureau (lead) and
    labour inspection (co-handler) → 130,000 yuan → reviewed up the chain → resolved → closed."""
    operator, city, pingshan = as_user(demo_org["hotline"]), as_user(demo_org["city.dispatcher"]), as_user(demo_org["pingshan.dispatcher"])
    hr, labour = as_user(demo_org["pingshan.hr"]), as_user(demo_org["pingshan.labour"])
    city_unit, pingshan_unit = unit_of(demo_org["city.dispatcher"]), unit_of(demo_org["pingshan.dispatcher"])
    street = Region.objects.get(name="坪山街道")

    zhao = operator.post(
        "/people", {"unit_id": city_unit.pk, "name": "赵女士", "sex": "female", "approximate_age": 33, "phones": [{"number": "138 0013 8021"}]}
    )
    assert zhao.status_code == 201, zhao.content
    registered = operator.post(
        "/cases",
        {
            "request_type": "help",
            "category": "pregnancy-discrimination",
            "summary": "孕期被扣工资，哺乳期不续签合同。",
            "region_id": street.pk,
            "address": "坪山街道某工业园",
            "unit_id": city_unit.pk,
            "petitioner_id": zhao.json()["id"],
            "parties": [{"role": "respondent", "organisation_name": "深圳某电子科技有限公司"}],
        },
        headers={"Idempotency-Key": "zhao-call-1"},
    )
    assert registered.status_code == 201, registered.content
    case = registered.json()
    assert (case["status"], case["category"], case["petitioner_id"], case["work_orders"]) == ("registered", "pregnancy-discrimination", zhao.json()["id"], [])
    assert case["number"].startswith("SZ-")
    contact = operator.post(
        "/contacts", {"unit_id": city_unit.pk, "channel": "hotline", "content": "来电反映孕期被扣工资。", "caller_phone": "13800138021", "case_id": case["id"]}
    )
    assert (contact.status_code, contact.json()["case_id"]) == (201, case["id"])

    suggestion = city.get(f"/cases/{case['id']}/suggestion", {"unit_id": city_unit.pk}).json()
    assert (suggestion["lead"]["id"], suggestion["cohandlers"]) == (pingshan_unit.pk, [])
    sent = city.post(f"/cases/{case['id']}/dispatch", {"dispatching_unit_id": city_unit.pk, "lead_id": suggestion["lead"]["id"]})
    assert sent.status_code == 201, sent.content
    [district_order] = sent.json()
    assert (district_order["unit"]["id"], district_order["role"], district_order["status"]) == (pingshan_unit.pk, "lead", "sent")
    assert city.get(f"/cases/{case['id']}").json()["status"] == "dispatched"

    # The district federation's dispatcher finds it in her inbox and signs for it.
    assert [o["id"] for o in pingshan.get("/work-orders").json()["items"]] == [district_order["id"]]
    signed = pingshan.post(f"/work-orders/{district_order['id']}/sign-for")
    assert (signed.status_code, signed.json()["status"]) == (200, "signed")
    assert city.get(f"/cases/{case['id']}").json()["status"] == "in_progress"

    second = pingshan.get(f"/cases/{case['id']}/suggestion", {"unit_id": pingshan_unit.pk}).json()
    assert (second["lead"]["name"], [u["name"] for u in second["cohandlers"]], second["time_class"]) == (
        "深圳市坪山区人力资源局",
        ["坪山街道劳动监察中队"],
        "complex",
    )
    forwarded = pingshan.post(
        f"/work-orders/{district_order['id']}/forward",
        {"lead_id": second["lead"]["id"], "cohandler_ids": [second["cohandlers"][0]["id"]], "instructions": "请人社局牵头。"},
    )
    assert forwarded.status_code == 201, forwarded.content
    children = {c["role"]: c for c in forwarded.json()}
    assert {c["parent_id"] for c in children.values()} == {district_order["id"]}
    contacted = pingshan.post(f"/work-orders/{district_order['id']}/first-contact", {"note": "电话联系赵女士。"})
    assert contacted.json()["status"] == "in_progress"

    for role, handler, amount in (("lead", hr, "130000"), ("cohandler", labour, None)):
        order_id = children[role]["id"]
        assert handler.post(f"/work-orders/{order_id}/sign-for").json()["status"] == "signed"
        assert handler.post(f"/work-orders/{order_id}/first-contact", {"note": "约谈。"}).json()["status"] == "in_progress"
        note = handler.post(f"/work-orders/{order_id}/notes", {"text": "组织三方协商。", "visibility": "public", "public_text": "承办单位已组织协商。"})
        assert (note.status_code, note.json()["kind"], note.json()["visibility"]) == (201, "note", "public")
        done = handler.post(f"/work-orders/{order_id}/complete", {"result": "企业道歉并补偿。", "outcome_codes": ["mediated"], "amount_yuan": amount})
        assert done.json()["status"] == "completed", done.content
        assert pingshan.post(f"/work-orders/{order_id}/review", {"accept": True}).json()["status"] == "accepted"

    completed = pingshan.post(f"/work-orders/{district_order['id']}/complete", {"result": "已解决。", "amount_yuan": 130000})
    assert (completed.json()["status"], Decimal(completed.json()["amount_yuan"])) == ("completed", Decimal("130000"))
    assert city.get(f"/cases/{case['id']}").json()["status"] == "in_progress"
    assert city.post(f"/work-orders/{district_order['id']}/review", {"accept": True}).json()["status"] == "accepted"
    resolved = city.get(f"/cases/{case['id']}").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    closed = city.post(f"/cases/{case['id']}/close")
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")

    hr_order = WorkOrder.objects.get(pk=children["lead"]["id"])
    assert (hr_order.status, hr_order.amount_yuan, hr_order.outcome_codes) == ("accepted", Decimal("130000.00"), ["mediated"])
    timeline = city.get(f"/cases/{case['id']}/timeline", {"limit": 200}).json()
    kinds = [event["kind"] for event in timeline["items"]]
    assert kinds[0] == EventKind.REGISTERED and kinds[-1] == EventKind.CLOSED
    assert [kinds.count(k) for k in (EventKind.SIGNED_FOR, EventKind.FIRST_CONTACT, EventKind.COMPLETED, EventKind.ACCEPTED, EventKind.NOTE)] == [3, 3, 3, 3, 2]
    assert timeline["count"] == len(kinds)
    # The retried registration found the same case: still one.
    again = operator.post(
        "/cases",
        {"request_type": "help", "category": "wage-arrears", "summary": "重发", "region_id": street.pk, "unit_id": city_unit.pk},
        headers={"Idempotency-Key": "zhao-call-1"},
    )
    assert (again.status_code, again.json()["id"], Case.objects.count()) == (200, case["id"], 1)


# --- refusals change nothing ---------------------------------------------------------------

#: (who, operation on a target) → 409: written out, not read from the transition table.
ILLEGAL = [
    ("handler", "POST", "/work-orders/{order_signed}/sign-for", None),
    ("handler", "POST", "/work-orders/{order_sent}/first-contact", {"note": "电话联系。"}),
    ("handler", "POST", "/work-orders/{order_sent}/complete", {"result": "完成。"}),
    ("handler", "POST", "/work-orders/{order_completed}/complete", {"result": "再次完成。"}),
    ("handler", "POST", "/work-orders/{order_sent}/notes", {"text": "记录。"}),
    ("handler", "POST", "/work-orders/{order_sent}/forward", {"lead_id": "community"}),
    ("handler", "POST", "/work-orders/{order_in_progress}/return", {"reason": "已开始，不能退回。"}),
    ("handler", "POST", "/work-orders/{order_returned}/sign-for", None),
    ("dispatcher", "POST", "/work-orders/{order_sent}/review", {"accept": True}),
    ("dispatcher", "POST", "/work-orders/{order_in_progress}/review", {"accept": False, "comment": "补充材料。"}),
    ("dispatcher", "POST", "/work-orders/{order_sent}/return-ruling", {"ruling": "justified"}),
    ("dispatcher", "POST", "/cases/{case}/close", None),
    ("dispatcher", "POST", "/cases/{case}/decline", {"reason": "已派发。"}),
    ("dispatcher", "POST", "/cases/{case}/dispatch", {"dispatching_unit_id": "pingshan", "lead_id": "pingshan_street"}),
    ("dispatcher", "POST", "/cases/{registered_case}/transfers", {"from_unit_id": "pingshan", "to_unit_id": "longhua", "reason": "再次转办。"}),
    ("dispatcher", "POST", "/cases/{resolved_case}/dispatch", {"dispatching_unit_id": "pingshan", "lead_id": "pingshan_street"}),
    ("dispatcher", "POST", "/cases/{resolved_case}/transfers", {"from_unit_id": "pingshan", "to_unit_id": "longhua", "reason": "已办结。"}),
    ("dispatcher", "POST", "/cases/{resolved_case}/answer", {"reply": "已办结。"}),
    ("operator", "POST", "/cases/{case}/answer", {"reply": "这是求助，不能直接答复。"}),
]


def _fill(text: Any, targets: dict[str, Any], org) -> Any:
    if isinstance(text, dict):
        return {key: _fill(value, targets, org) for key, value in text.items()}
    if text in org.units:
        return org.units[text].pk
    if text == "community":
        return org.units["pingshan_community"].pk
    if isinstance(text, str) and "{" in text:
        name = text[text.index("{") + 1 : text.index("}")]
        return text.replace("{" + name + "}", str(targets[name].pk))
    return text


@pytest.mark.parametrize(("who", "method", "path", "body"), ILLEGAL, ids=[f"{w}:{p}" for w, _m, p, _b in ILLEGAL])
def test_illegal_transition_is_409_and_changes_nothing(org, personas, targets, as_user, who, method, path, body):
    before = case_fingerprint()
    response = as_user(personas[who]).post(_fill(path, targets, org), _fill(body, targets, org))
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"]
    assert case_fingerprint() == before


def test_decided_transfer_cannot_be_decided_again(personas, targets, as_user):
    longhua = as_user(personas["dispatcher_twin"])
    assert longhua.post(f"/transfers/{targets['transfer'].pk}/decision", {"accept": False, "note": "不接收。"}).json()["status"] == "refused"
    before = case_fingerprint()
    again = longhua.post(f"/transfers/{targets['transfer'].pk}/decision", {"accept": True})
    assert again.status_code == 409
    assert case_fingerprint() == before


# --- bad input: 422 naming the field, nothing saved ---------------------------------------------


def _case_body(org, **changes: Any) -> dict[str, Any]:
    return {
        "request_type": "help",
        "category": "wage-arrears",
        "summary": "公司拖欠工资。",
        "region_id": org.regions["pingshan_street"].pk,
        "unit_id": org.units["pingshan"].pk,
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "no-such-category"}, "category"),
        ({"category": "employment"}, "category"),  # a first-level category
        ({"region_id": "longhua"}, "region_id"),  # outside the Pingshan operator's scope
        ({"region_id": 999999}, "region_id"),
        ({"unit_id": "longhua"}, "unit_id"),  # not one of her units
        ({"summary": ""}, "summary"),
        ({"summary": "   "}, "summary"),
        ({"request_type": "gossip"}, "request_type"),
        ({"petitioner_id": 999999}, "petitioner_id"),
        ({"request_type": "accusation"}, "accused_unit_id"),
        ({"police_incident_number": "LH-1"}, "police_notified"),
        ({"parties": [{"role": "respondent"}]}, "parties.0"),
    ],
)
def test_bad_case_is_422_naming_the_field_and_nothing_saved(org, personas, targets, as_user, changes, field):
    named = {
        key: (org.regions[value].pk if key == "region_id" else org.units[value].pk) if isinstance(value, str) and key.endswith("_id") else value
        for key, value in changes.items()
    }
    before = case_fingerprint()
    response = as_user(personas["operator"]).post("/cases", _case_body(org, **named))
    assert error_fields(response) == {field}
    assert case_fingerprint() == before


def test_person_of_another_district_cannot_be_named(org, personas, as_user):
    longhua_person = as_user(personas["operator_twin"]).post("/people", {"unit_id": org.units["longhua"].pk, "name": "钱女士"}).json()["id"]
    response = as_user(personas["operator"]).post("/cases", _case_body(org, petitioner_id=longhua_person))
    assert error_fields(response) == {"petitioner_id"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dispatching_unit_id": "longhua", "lead_id": "pingshan_street"}, "dispatching_unit_id"),
        ({"dispatching_unit_id": "pingshan", "lead_id": 999999}, "lead_id"),
        ({"dispatching_unit_id": "pingshan", "lead_id": "longhua_street"}, "lead_id"),  # outside her reach
        ({"dispatching_unit_id": "pingshan", "lead_id": "pingshan_street", "cohandler_ids": [999999]}, "cohandler_ids"),
        ({"dispatching_unit_id": "pingshan", "lead_id": "pingshan_street", "cohandler_ids": ["pingshan_street"]}, "cohandler_ids"),
        ({"dispatching_unit_id": "pingshan", "lead_id": "pingshan_street", "legal_basis": "whim"}, "legal_basis"),
    ],
)
def test_bad_dispatch_is_422_naming_the_field_and_nothing_saved(org, personas, targets, as_user, body, field):
    def unit(value: Any) -> Any:
        return org.units[value].pk if isinstance(value, str) and value in org.units else value

    filled = {key: [unit(v) for v in value] if isinstance(value, list) else unit(value) for key, value in body.items()}
    before = case_fingerprint()
    response = as_user(personas["dispatcher"]).post(f"/cases/{targets['registered_case'].pk}/dispatch", filled)
    assert error_fields(response) == {field}
    assert case_fingerprint() == before


def test_case_search_by_malformed_phone_is_422(personas, targets, as_user):
    assert error_fields(as_user(personas["dispatcher"]).get("/cases", {"phone": "12345"})) == {"phone"}


# --- idempotency ---------------------------------------------------------------------------


def test_case_retried_with_the_same_key_is_one_case(org, personas, targets, as_user):
    operator = as_user(personas["operator"])
    before = Case.objects.count()
    first = operator.post("/cases", _case_body(org), headers={"Idempotency-Key": "call-2026-001"})
    retry = operator.post("/cases", _case_body(org), headers={"Idempotency-Key": "call-2026-001"})
    other = operator.post("/cases", _case_body(org), headers={"Idempotency-Key": "call-2026-002"})
    assert (first.status_code, retry.status_code, other.status_code) == (201, 200, 201)
    assert retry.json() == first.json()
    assert other.json()["id"] != first.json()["id"]
    assert Case.objects.count() == before + 2


def test_dispatch_and_note_retried_with_the_same_key_create_once(org, personas, targets, as_user):
    dispatcher, handler = as_user(personas["dispatcher"]), as_user(personas["handler"])
    body = {"dispatching_unit_id": org.units["pingshan"].pk, "lead_id": org.units["pingshan_street"].pk}
    url = f"/cases/{targets['registered_case'].pk}/dispatch"
    first, retry = (dispatcher.post(url, body, headers={"Idempotency-Key": "d-1"}) for _ in range(2))
    assert (first.status_code, retry.status_code, retry.json()) == (201, 200, first.json())
    assert dispatcher.post(url, body).status_code == 409  # without the key a second dispatch is refused
    order = targets["order_signed"]
    notes = [handler.post(f"/work-orders/{order.pk}/notes", {"text": "约谈。"}, headers={"Idempotency-Key": "n-1"}) for _ in range(2)]
    assert [n.status_code for n in notes] == [201, 200]
    assert notes[0].json() == notes[1].json()
    assert order.events.filter(kind=EventKind.NOTE).count() == 1


def test_malformed_idempotency_key_is_422(org, personas, targets, as_user):
    response = as_user(personas["operator"]).post("/cases", _case_body(org), headers={"Idempotency-Key": "has spaces"})
    assert error_fields(response) == {"Idempotency-Key"}


# --- scope ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cases/{case}", "/cases/{case}/timeline", "/work-orders/{order_sent}"])
def test_twin_district_gets_404_like_a_missing_record(org, personas, targets, as_user, path):
    twin = as_user(personas["dispatcher_twin"])
    hidden = twin.get(_fill(path, targets, org))
    missing = twin.get(path.split("{")[0] + "999999" + path.split("}")[1])
    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content) == (404, missing.content)


def test_twin_district_cannot_act_on_the_case(org, personas, targets, as_user):
    before = case_fingerprint()
    twin = as_user(personas["handler_twin"])
    assert twin.post(f"/work-orders/{targets['order_sent'].pk}/sign-for").status_code == 404
    assert as_user(personas["dispatcher_twin"]).post(f"/cases/{targets['registered_case'].pk}/decline", {"reason": "x"}).status_code == 404
    assert case_fingerprint() == before


def test_twin_district_search_finds_nothing_of_pingshan(personas, targets, as_user):
    assert as_user(personas["dispatcher_twin"]).get("/cases").json() == {"items": [], "count": 0}
    assert as_user(personas["handler_twin"]).get("/work-orders").json() == {"items": [], "count": 0}


def test_department_sees_only_the_case_sent_to_it(personas, targets, as_user):
    department = as_user(personas["department_handler"])
    assert [c["id"] for c in department.get("/cases").json()["items"]] == [targets["case"].pk]
    assert department.get(f"/cases/{targets['registered_case'].pk}").status_code == 404


def test_accused_unit_never_sees_the_accusation(org, personas, targets, as_user):
    body = _case_body(org, request_type="accusation", accused_unit_id=org.units["pingshan_street"].pk, summary="街道妇联工作人员推诿。")
    case = as_user(personas["operator"]).post("/cases", body).json()
    handler = as_user(personas["handler"])
    assert handler.get(f"/cases/{case['id']}").status_code == 404
    assert case["id"] not in [c["id"] for c in handler.get("/cases", {"limit": 200}).json()["items"]]
    suggestion = as_user(personas["dispatcher"]).get(f"/cases/{case['id']}/suggestion", {"unit_id": org.units["pingshan"].pk}).json()
    assert suggestion["lead"] is None or suggestion["lead"]["id"] != org.units["pingshan_street"].pk
    refused = as_user(personas["dispatcher"]).post(
        f"/cases/{case['id']}/dispatch", {"dispatching_unit_id": org.units["pingshan"].pk, "lead_id": org.units["pingshan_street"].pk}
    )
    assert error_fields(refused) == {"lead_id"}


def test_suggestion_needs_one_of_her_units(org, personas, targets, as_user):
    dispatcher = as_user(personas["dispatcher"])
    suggestion = dispatcher.get(f"/cases/{targets['case'].pk}/suggestion", {"unit_id": org.units["pingshan"].pk}).json()
    assert suggestion == {
        "lead": {"id": org.units["pingshan_street"].pk, "name": "坪山街道妇联"},
        "cohandlers": [{"id": org.units["pingshan_hr"].pk, "name": "坪山区人力资源局"}],
        "time_class": "complex",
        "rule_id": targets["rule"].pk,
    }
    assert error_fields(dispatcher.get(f"/cases/{targets['case'].pk}/suggestion", {"unit_id": org.units["longhua"].pk})) == {"unit_id"}


# --- confidential locations -----------------------------------------------------------------


def test_confidential_location_is_never_in_lists(org, personas, targets, as_user):
    dispatcher = as_user(personas["dispatcher"])
    case = dispatcher.post("/cases", _case_body(org, address="坪山街道某小区 2 栋", location_confidential=True)).json()
    assert (case["region_id"], case["address"]) == (org.regions["pingshan_street"].pk, "坪山街道某小区 2 栋")  # her federation's area
    listed = {c["id"]: c for c in dispatcher.get("/cases", {"limit": 200}).json()["items"]}
    assert (listed[case["id"]]["region_id"], listed[case["id"]]["location_confidential"]) == (None, True)
    assert "address" not in listed[case["id"]]
    assert listed[targets["case"].pk]["region_id"] == org.regions["pingshan_street"].pk
    # A search by place does not find it.
    by_place = dispatcher.get("/cases", {"region_id": org.regions["pingshan_street"].pk, "limit": 200}).json()["items"]
    assert case["id"] not in [c["id"] for c in by_place] and targets["case"].pk in [c["id"] for c in by_place]
    # The operator registered it but handles nothing: she does not see where it is.
    seen_by_operator = as_user(personas["operator"]).get(f"/cases/{case['id']}").json()
    assert (seen_by_operator["region_id"], seen_by_operator["address"]) == (None, None)


def test_origin_district_loses_the_location_after_transfer(org, personas, targets, as_user):
    """Pingshan transfers a case to Longhua (she moved): Pingshan keeps the history it wrote but not the new place."""
    pingshan, longhua, handler = as_user(personas["dispatcher"]), as_user(personas["dispatcher_twin"]), as_user(personas["handler"])
    case = targets["case"]
    transfer = pingshan.post(
        f"/cases/{case.pk}/transfers",
        {
            "from_unit_id": org.units["pingshan"].pk,
            "to_unit_id": org.units["longhua"].pk,
            "reason": "她已搬到龙华居住。",
            "new_region_id": org.regions["longhua_street"].pk,
            "new_address": "龙华街道某小区（保密）",
        },
    )
    assert transfer.status_code == 201, transfer.content
    assert pingshan.get(f"/cases/{case.pk}").json()["address"] == "坪山街道某工业园 3 栋"
    accepted = longhua.post(f"/transfers/{transfer.json()['id']}/decision", {"accept": True, "note": "接收。"})
    assert (accepted.status_code, accepted.json()["status"]) == (200, "accepted")

    theirs = longhua.get(f"/cases/{case.pk}").json()
    assert (theirs["region_id"], theirs["address"], theirs["location_confidential"]) == (org.regions["longhua_street"].pk, "龙华街道某小区（保密）", True)
    longhua_order = next(o for o in theirs["work_orders"] if o["unit"]["id"] == org.units["longhua"].pk)
    for origin in (pingshan, handler):
        ours = origin.get(f"/cases/{case.pk}").json()
        assert (ours["region_id"], ours["address"]) == (None, None)
        assert {o["unit"]["id"]: o["status"] for o in ours["work_orders"]} == {
            org.units["pingshan_street"].pk: "transferred",
            org.units["pingshan_hr"].pk: "transferred",
        }
        assert origin.get(f"/work-orders/{longhua_order['id']}").status_code == 404
        kinds = [e["kind"] for e in origin.get(f"/cases/{case.pk}/timeline").json()["items"]]
        assert kinds == ["registered", "dispatched", "transfer_requested"]
        listed = {c["id"]: c for c in origin.get("/cases", {"limit": 200}).json()["items"]}
        assert listed[case.pk]["region_id"] is None


# --- query counts ----------------------------------------------------------------------------


def _more_cases(org, personas, targets, n: int) -> None:
    for _ in range(n):
        case = services.register_case(
            by=personas["operator"],
            unit=org.units["pingshan"],
            request_type=RequestType.HELP,
            category=targets["category"],
            summary="拖欠工资。",
            region=org.regions["pingshan_street"],
        )
        services.dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"])
        services.add_progress_note(work_order=targets["order_signed"], by=personas["handler"], text="跟进。")


@pytest.mark.parametrize(
    ("who", "path", "queries"),
    [
        ("dispatcher", "/cases", 4),
        ("dispatcher", "/cases/{order_signed_case}/timeline", 5),
        # The inbox also reads the work orders' clocks, in one more query for the whole page.
        ("handler", "/work-orders", 5),
        ("operator", "/categories", 3),
    ],
)
def test_list_query_count_does_not_grow_with_rows(org, personas, targets, as_user, django_assert_num_queries, who, path, queries):
    api = as_user(personas[who])
    path = path.replace("{order_signed_case}", str(targets["order_signed"].case_id))
    api.get(path)  # the token's first use also notes when it was last used
    # The token, her memberships (not needed for the taxonomy), the case for a timeline, then the page: count and rows.
    with django_assert_num_queries(queries):
        first = api.get(path)
    _more_cases(org, personas, targets, 4)
    with django_assert_num_queries(queries):
        second = api.get(path)
    if path != "/categories":
        assert second.json()["count"] > first.json()["count"]


def test_case_detail_hides_nothing_from_the_handling_units(org, personas, targets, as_user):
    handler = as_user(personas["handler"])
    case = handler.get(f"/cases/{targets['case'].pk}").json()
    assert (case["region_id"], case["address"], case["category"]) == (org.regions["pingshan_street"].pk, "坪山街道某工业园 3 栋", "wage-arrears")
    assert [(o["unit"]["id"], o["role"], o["status"]) for o in case["work_orders"]] == [
        (org.units["pingshan_street"].pk, "lead", "sent"),
        (org.units["pingshan_hr"].pk, "cohandler", "sent"),
    ]
    assert Category.objects.get(pk=targets["category"].pk).code == case["category"]
    assert CaseStatus(case["status"]) == CaseStatus.DISPATCHED
    assert Unit.objects.filter(pk__in=[o["sent_by_unit"]["id"] for o in case["work_orders"]]).get() == org.units["pingshan"]


def test_answered_consultation_cannot_be_answered_again(personas, targets, as_user):
    operator = as_user(personas["operator"])
    url = f"/cases/{targets['registered_case'].pk}/answer"
    answered = operator.post(url, {"reply": "产假为九十八天。"}).json()
    assert (answered["status"], answered["reply"], answered["closed_at"] is not None) == ("answered", "产假为九十八天。", True)
    before = case_fingerprint()
    assert operator.post(url, {"reply": "再答一次。"}).status_code == 409
    assert case_fingerprint() == before
