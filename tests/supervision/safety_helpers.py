"""Records of the safety follow-up for the access matrix and the API fuzz: a domestic-violence case
being handled in Pingshan, and a resolved one whose follow-up (opened on resolution) is open."""

from __future__ import annotations

from typing import Any

from rightscare.cases import services
from rightscare.cases.models import Case, Category
from rightscare.supervision.models import SafetyFollowUp, SafetyReview


def _dv_case(org: Any, personas: dict[str, Any], *steps: str) -> Case:
    case = services.register_case(
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=Category.objects.get(code="dv-physical", valid_until__isnull=True),
        summary="丈夫多次殴打。",
        region=org.regions["pingshan_street"],
    )
    [order] = services.dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"])
    order = services.sign_for_work_order(work_order=order, by=personas["handler"])
    if "resolve" in steps:
        order = services.record_first_contact(work_order=order, by=personas["handler"], note="电话联系。")
        order = services.complete_work_order(work_order=order, by=personas["handler"], result="保护令已获批。")
        services.review_work_order(work_order=order, by=personas["dispatcher"], accept=True)
    return Case.objects.get(pk=case.pk)


def safety_targets(org: Any, personas: dict[str, Any]) -> dict[str, Any]:
    """``dv_case``: signed for by the Pingshan street federation; ``follow_up``: the open follow-up of a resolved one."""
    resolved = _dv_case(org, personas, "resolve")
    return {"dv_case": _dv_case(org, personas), "follow_up": SafetyFollowUp.objects.get(case=resolved, ended_at__isnull=True)}


def safety_fingerprint() -> tuple[Any, ...]:
    """What the safety pages and operations change."""
    return (
        tuple(sorted(SafetyFollowUp.objects.values_list("pk", "unit_id", "next_review_at", "ended_at"))),
        SafetyReview.objects.count(),
    )


def safety_path_ids(path: str, org: Any, personas: dict[str, Any]) -> dict[str, int]:
    """Real ids for the fuzzed safety operations (the case one and the follow-up ones)."""
    if "safety-follow-ups" not in path or ("{case_id}" not in path and "{follow_up_id}" not in path):
        return {}
    targets = safety_targets(org, personas)
    return {"case_id": targets["dv_case"].pk, "follow_up_id": targets["follow_up"].pk}
