"""The ratings API: rounds of a case, the return-visit queue, a call, a rework."""

from __future__ import annotations

import pytest

from rightscare.org import services as org_services
from rightscare.ratings.models import Rating, RoundStatus
from tests.ratings.helpers import resolved_case, unsatisfied_case

pytestmark = pytest.mark.django_db


def _auth(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {org_services.create_api_token(by=user, name='t')[1]}"}


def test_rounds_queue_call_and_rework(client, org, personas) -> None:
    case, _order = unsatisfied_case(org, personas)
    officer, dispatcher = personas["return_visit"], personas["dispatcher"]
    rounds = client.get(f"/api/v1/ratings/cases/{case.pk}", headers=_auth(dispatcher)).json()
    assert [(r["number"], r["status"], r["rating"]["solved"], r["rating"]["satisfied"], r["return_visit_reason"]) for r in rounds] == [
        (1, "rated", "no", False, "unsatisfied")
    ]
    queue = client.get("/api/v1/ratings/return-visits", headers=_auth(officer)).json()
    assert [item["case_id"] for item in queue["items"]] == [case.pk]
    round_id = rounds[0]["id"]
    headers = {**_auth(officer), "Idempotency-Key": "call-1"}
    first = client.post(f"/api/v1/ratings/rounds/{round_id}/calls", {"reached": True, "note": "要求重办。"}, content_type="application/json", headers=headers)
    assert first.status_code == 201
    assert first.json()["attempts"][0]["reached"] is True and first.json()["return_visit_done_at"] is not None
    repeat = client.post(f"/api/v1/ratings/rounds/{round_id}/calls", {"reached": True}, content_type="application/json", headers=headers)
    assert repeat.status_code == 200 and len(repeat.json()["attempts"]) == 1
    reworked = client.post(f"/api/v1/ratings/cases/{case.pk}/rework", {"reason": "重办。"}, content_type="application/json", headers=_auth(dispatcher))
    assert reworked.status_code == 200
    assert reworked.json()["work_order_status"] == "in_progress" and reworked.json()["case_status"] == "in_progress"


def test_call_with_a_bad_score_is_refused(client, org, personas) -> None:
    case, _order = resolved_case(org, personas)
    round_id = case.rating_rounds.get().pk
    body = {"reached": True, "solved": "yes", "speed": 9, "quality": 5}
    response = client.post(f"/api/v1/ratings/rounds/{round_id}/calls", body, content_type="application/json", headers=_auth(personas["return_visit"]))
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert not Rating.objects.exists()
    assert case.rating_rounds.get().status == RoundStatus.OPEN


def test_handling_unit_officer_gets_a_clear_403(client, org, personas) -> None:
    from rightscare.org.models import Membership
    from rightscare.org.roles import Role

    case, _order = resolved_case(org, personas)
    officer = personas["handler"]
    Membership.objects.create(user=officer, unit=org.units["pingshan_street"], role=Role.RETURN_VISIT_OFFICER)
    round_id = case.rating_rounds.get().pk
    response = client.post(f"/api/v1/ratings/rounds/{round_id}/calls", {"reached": False}, content_type="application/json", headers=_auth(officer))
    assert response.status_code == 403
    assert "Your unit is handling this case" in response.json()["detail"]
