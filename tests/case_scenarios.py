"""Cases in every state on the test organisation, built through the services.

Used by the access matrix and the API fuzzing: each operation on a case or a work
order needs a record in the state the operation expects. Every case is a Pingshan
case: registered by the ``operator`` persona's district federation in the Pingshan
street, dispatched by the ``dispatcher`` persona to the Pingshan street federation
(the ``handler`` persona's unit).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from rightscare.cases import services
from rightscare.cases.models import Case, Category, PartyRole, RequestType, ResponsibilityRule, TimeClass, Transfer, WorkOrder
from rightscare.org.divisions import RegionLevel
from rightscare.org.models import Unit, User
from rightscare.registry.models import Person, Sex
from rightscare.registry.services import record_person
from rightscare.supervision.models import ClockPause, ClockPolicy, Extension
from rightscare.supervision.services import pause_clocks, request_extension
from tests.factories import OrgTree

#: The petitioner's and the respondent's numbers (complete, valid, normalised forms differ).
PETITIONER_PHONE = "138 0013 8021"
RESPONDENT_PHONE = "139 2233 4455"


def build_case_targets(org: OrgTree, personas: dict[str, User]) -> dict[str, Any]:
    """Cases and work orders in every state an operation needs, and a pending transfer.

    * ``case``: dispatched to the street federation (lead, sent) and the Pingshan HR
      bureau (co-handler), with a petitioner and a respondent who are people on file;
    * ``registered_case``: a consultation not yet dispatched, with a pending transfer
      to the Longhua district federation (``transfer``);
    * ``order_sent`` / ``order_signed`` / ``order_in_progress`` / ``order_completed`` /
      ``order_returned``: the street federation's lead order of a case each;
    * ``resolved_case``: its only order accepted;
    * ``order_paused``: signed for, its clocks paused; ``extension``: a request for more
      time waiting on another signed order; ``clock_policy``: a deadline preset in force.
    """
    operator, dispatcher, handler = personas["operator"], personas["dispatcher"], personas["handler"]
    pingshan, street, hr = org.units["pingshan"], org.units["pingshan_street"], org.units["pingshan_hr"]
    category = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    rule = ResponsibilityRule.objects.create(
        dispatch_level=RegionLevel.DISTRICT, category=category.parent or category, lead_kind=street.kind, time_class=TimeClass.COMPLEX
    )
    rule.cohandler_kinds.set([hr.kind])
    petitioner = record_person(by=operator, unit=pingshan, name="赵女士", sex=Sex.FEMALE, approximate_age=33, phones=[(PETITIONER_PHONE, False)])
    respondent = record_person(by=operator, unit=pingshan, name="钱某", sex=Sex.MALE, phones=[(RESPONDENT_PHONE, False)])

    def register(*, request_type: str = RequestType.HELP, summary: str = "拖欠工资三个月。", with_people: bool = False) -> Case:
        return services.register_case(
            by=operator,
            unit=pingshan,
            request_type=request_type,
            category=category,
            summary=summary,
            region=org.regions["pingshan_street"],
            address="坪山街道某工业园 3 栋",
            petitioner=petitioner if with_people else None,
            parties=[services.PartyInput(role=PartyRole.RESPONDENT, person=respondent)] if with_people else [],
        )

    def dispatched(*steps: str, cohandlers: tuple[Any, ...] = ()) -> WorkOrder:
        case = register()
        order = services.dispatch_case(case=case, by=dispatcher, dispatching_unit=pingshan, lead=street, cohandlers=list(cohandlers))[0]
        for step in steps:
            if step == "sign_for":
                order = services.sign_for_work_order(work_order=order, by=handler)
            elif step == "first_contact":
                order = services.record_first_contact(work_order=order, by=handler, note="电话联系。")
            elif step == "complete":
                order = services.complete_work_order(work_order=order, by=handler, result="已追回工资。", amount_yuan=Decimal("130000"))
            elif step == "accept":
                order = services.review_work_order(work_order=order, by=dispatcher, accept=True)
            elif step == "return":
                order = services.return_work_order(work_order=order, by=handler, reason="不属于本街道。")
        return order

    main = register(with_people=True)
    main_order = services.dispatch_case(case=main, by=dispatcher, dispatching_unit=pingshan, lead=street, cohandlers=[hr])[0]
    registered = register(request_type=RequestType.CONSULTATION, summary="咨询产假天数。")
    transfer = services.request_transfer(
        case=registered,
        by=dispatcher,
        from_unit=pingshan,
        to_unit=org.units["longhua"],
        reason="她已搬到龙华。",
        new_region=org.regions["longhua_street"],
        new_address="龙华街道某小区",
    )
    # The deadlines' operations: a work order with its clocks paused, one with a request for more time waiting.
    order_paused = dispatched("sign_for")
    pause_clocks(work_order=order_paused, by=handler, reason_code="petitioner", reason="她外出务工，下周回来。")
    order_extension = dispatched("sign_for")
    extension = request_extension(work_order=order_extension, by=handler, days=3, reason="等待仲裁结果。")
    return {
        "category": category,
        "rule": rule,
        "petitioner": petitioner,
        "respondent": respondent,
        "case": main,
        "order_sent": main_order,
        "registered_case": registered,
        "transfer": transfer,
        "order_signed": dispatched("sign_for"),
        "order_in_progress": dispatched("sign_for", "first_contact"),
        "order_completed": dispatched("sign_for", "first_contact", "complete"),
        "order_returned": dispatched("return"),
        "resolved_case": dispatched("sign_for", "first_contact", "complete", "accept").case,
        "order_paused": order_paused,
        "extension": extension,
        "clock_policy": ClockPolicy.objects.current().order_by("pk").first(),
    }


def case_fingerprint() -> tuple[Any, ...]:
    """Everything a case operation may change: counts and states of cases, orders, transfers, contacts and people."""
    from rightscare.cases.models import CaseEvent
    from rightscare.intake.models import Contact

    return (
        sorted(Case.objects.values_list("pk", "status", "region_id", "version", "reply", "not_accepted_reason")),
        sorted(WorkOrder.objects.values_list("pk", "status", "version", "return_ruling")),
        sorted(Transfer.objects.values_list("pk", "status")),
        CaseEvent.objects.count(),
        Contact.objects.count(),
        Person.objects.count(),
        sorted(ClockPause.objects.values_list("pk", "ended_at")),
        sorted(Extension.objects.values_list("pk", "status")),
        sorted(ClockPolicy.objects.values_list("pk", "amount", "valid_until")),
    )


#: Which record each case and work-order operation acts on: the one in the state it expects.
TARGET_OF_OPERATION = {
    "/api/v1/cases/{case_id}/dispatch": "registered_case",
    "/api/v1/cases/{case_id}/answer": "registered_case",
    "/api/v1/cases/{case_id}/decline": "registered_case",
    "/api/v1/cases/{case_id}/close": "resolved_case",
    "/api/v1/work-orders/{work_order_id}/return-ruling": "order_returned",
    "/api/v1/work-orders/{work_order_id}/first-contact": "order_signed",
    "/api/v1/work-orders/{work_order_id}/notes": "order_signed",
    "/api/v1/work-orders/{work_order_id}/forward": "order_signed",
    "/api/v1/work-orders/{work_order_id}/complete": "order_in_progress",
    "/api/v1/work-orders/{work_order_id}/review": "order_completed",
    "/api/v1/work-orders/{work_order_id}/pause": "order_signed",
    "/api/v1/work-orders/{work_order_id}/resume": "order_paused",
    "/api/v1/work-orders/{work_order_id}/extensions": "order_signed",
    "/api/v1/cases/{case_id}/safety-follow-ups": "dv_case",
}


def case_path_ids(path: str, targets: dict[str, Any]) -> dict[str, int]:
    """The path parameters of a case, work-order or transfer operation, pointing at records in the right state."""
    target = TARGET_OF_OPERATION.get(path)
    ids = {
        # A target built elsewhere (the safety follow-up's domestic-violence case) when present.
        "case_id": targets[target if target in targets and "{case_id}" in path else "case"].pk,
        "work_order_id": targets[target if target in targets and "{work_order_id}" in path else "order_sent"].pk,
        "transfer_id": targets["transfer"].pk,
        "extension_id": targets["extension"].pk,
    }
    return {name: pk for name, pk in ids.items() if "{" + name + "}" in path}


def case_operation_query(path: str, targets: dict[str, Any]) -> dict[str, str]:
    """Query parameters an operation needs to succeed."""
    return {
        "/api/v1/cases/{case_id}/suggestion": {"unit_id": str(targets["case"].registering_unit_id)},
        "/api/v1/caller-history": {"phone": PETITIONER_PHONE},
    }.get(path, {})


def case_operation_url(path: str, targets: dict[str, Any]) -> str:
    """``path`` with the ids of ``case_path_ids`` filled in and the query it needs."""
    query = case_operation_query(path, targets)
    for name, pk in case_path_ids(path, targets).items():
        path = path.replace("{" + name + "}", str(pk))
    return path + ("?" + urlencode(query) if query else "")


def case_operation_body(path: str, targets: dict[str, Any]) -> dict[str, Any] | None:
    """A valid body for each case and intake operation that takes one (ids of the records built here)."""
    case = targets["case"]
    pingshan = case.registering_unit_id
    street = targets["order_sent"].unit_id
    community = Unit.objects.get(region__path__startswith=case.region.path, kind__family="committee").pk
    hr = WorkOrder.objects.get(case=case, role="cohandler").unit_id
    return {
        "/api/v1/cases": {
            "request_type": "help",
            "category": "wage-arrears",
            "summary": "公司拖欠三个月工资。",
            "region_id": case.region_id,
            "unit_id": pingshan,
            "address": "坪山街道某工业园",
        },
        "/api/v1/cases/{case_id}/dispatch": {"dispatching_unit_id": pingshan, "lead_id": street, "cohandler_ids": [hr]},
        "/api/v1/cases/{case_id}/answer": {"reply": "产假为九十八天，另有深圳奖励假。"},
        "/api/v1/cases/{case_id}/decline": {"reason": "不属于妇联受理范围。"},
        "/api/v1/cases/{case_id}/transfers": {"from_unit_id": pingshan, "to_unit_id": targets["transfer"].to_unit_id, "reason": "她已搬到龙华。"},
        "/api/v1/transfers/{transfer_id}/decision": {"accept": True, "note": "接收。"},
        "/api/v1/work-orders/{work_order_id}/return": {"reason": "不属于本街道。"},
        "/api/v1/work-orders/{work_order_id}/return-ruling": {"ruling": "justified"},
        "/api/v1/work-orders/{work_order_id}/first-contact": {"note": "电话联系赵女士。"},
        "/api/v1/work-orders/{work_order_id}/notes": {"text": "约谈企业负责人。"},
        "/api/v1/work-orders/{work_order_id}/forward": {"lead_id": community},
        "/api/v1/work-orders/{work_order_id}/complete": {"result": "企业补发工资。", "amount_yuan": "130000"},
        "/api/v1/work-orders/{work_order_id}/review": {"accept": True},
        "/api/v1/work-orders/{work_order_id}/pause": {"reason_code": "court", "reason": "（2026）粤0310民初123号"},
        "/api/v1/work-orders/{work_order_id}/extensions": {"days": 3, "reason": "等待仲裁结果。"},
        "/api/v1/extensions/{extension_id}/decision": {"approve": True, "note": "同意。"},
        "/api/v1/contacts": {"unit_id": pingshan, "channel": "hotline", "content": "来电询问进展。", "caller_phone": PETITIONER_PHONE},
        "/api/v1/people": {"unit_id": pingshan, "name": "孙女士", "sex": "female", "phones": [{"number": "137 1234 5678"}]},
        "/api/v1/calls": {
            "unit_id": pingshan,
            "channel": "hotline",
            "caller_phone": "137 1234 5678",
            "new_caller": {"name": "孙女士", "sex": "female"},
            "content": "公司拖欠三个月工资。",
            "category": "wage-arrears",
            "region_id": case.region_id,
        },
    }.get(path)
