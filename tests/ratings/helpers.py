"""A resolved Pingshan case built through the services, for the ratings tests and the access matrix."""

from __future__ import annotations

from typing import Any

from rightscare.cases import services
from rightscare.cases.models import Case, Category, WorkOrder


def resolved_case(org, personas, *, summary: str = "拖欠工资三个月。") -> tuple[Case, WorkOrder]:
    """A case registered by the Pingshan district federation, led by the street federation, accepted: resolved."""
    pingshan, street = org.units["pingshan"], org.units["pingshan_street"]
    handler, dispatcher = personas["handler"], personas["dispatcher"]
    category = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    case = services.register_case(
        by=personas["operator"], unit=pingshan, request_type="help", category=category, summary=summary, region=org.regions["pingshan_street"]
    )
    order = services.dispatch_case(case=case, by=dispatcher, dispatching_unit=pingshan, lead=street)[0]
    order = services.sign_for_work_order(work_order=order, by=handler)
    order = services.record_first_contact(work_order=order, by=handler, note="电话联系。")
    order = services.complete_work_order(work_order=order, by=handler, result="已追回工资。")
    order = services.review_work_order(work_order=order, by=dispatcher, accept=True)
    case.refresh_from_db()
    return case, order


def unsatisfied_case(org, personas, **kwargs: Any) -> tuple[Case, WorkOrder]:
    """A resolved case the petitioner rated "not solved" on the tracking page."""
    from rightscare.ratings.public import submit_public_rating

    case, order = resolved_case(org, personas, **kwargs)
    submit_public_rating(case=case, solved="no", speed=2, quality=2, comment="没有解决。")
    return case, order


def ratings_path_ids(path: str, org, personas) -> dict[str, int]:
    """Ids for the ratings operations (``/api/v1/ratings/…``): a case rated "not solved" and its round."""
    if not path.startswith("/api/v1/ratings/"):
        return {}
    case, _order = unsatisfied_case(org, personas)
    return {"case_id": case.pk, "round_id": case.rating_rounds.get().pk}
