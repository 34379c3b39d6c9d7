"""The return-visit pages, the rework page and the public rating form's endpoint."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from rightscare.cases.models import CaseStatus, EventKind, WorkOrderStatus
from rightscare.ratings.models import Rating, RatingRound, ReturnVisitAttempt, RoundStatus
from rightscare.ratings.public import rating_context
from tests.ratings.helpers import resolved_case, unsatisfied_case

pytestmark = pytest.mark.django_db


def test_queue_lists_the_unsatisfied_case_for_the_return_visit_officer(client, login, org, personas) -> None:
    case, _order = unsatisfied_case(org, personas)
    login(personas["return_visit"])
    response = client.get(reverse("return_visit_queue"))
    assert response.status_code == 200
    html = response.content.decode()
    assert case.number in html
    assert reverse("return_visit_record", args=[case.rating_rounds.get().pk]) in html


def test_phone_rating_recorded_from_the_form(client, login, org, personas) -> None:
    case, _order = resolved_case(org, personas)
    round_ = case.rating_rounds.get()
    login(personas["return_visit"])
    url = reverse("return_visit_record", args=[round_.pk])
    assert client.get(url).status_code == 200
    # Reached but no answers: the form comes back (422) and nothing is written.
    response = client.post(url, {"reached": "yes", "note": "接通。", "idempotency_key": "a"})
    assert response.status_code == 422
    assert not ReturnVisitAttempt.objects.exists()
    response = client.post(url, {"reached": "yes", "note": "接通。", "solved": "partly", "speed": "4", "quality": "3", "idempotency_key": "b"})
    assert response.status_code == 302
    rating = Rating.objects.get(round=round_)
    assert (rating.channel, rating.solved, rating.speed, rating.quality) == ("phone", "partly", 4, 3)


def test_rework_page_sends_the_case_back(client, login, org, personas) -> None:
    case, order = unsatisfied_case(org, personas)
    login(personas["dispatcher"])
    url = reverse("case_rework", args=[case.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": "企业仍未支付。", "idempotency_key": "r1"})
    assert response.status_code == 302
    order.refresh_from_db()
    case.refresh_from_db()
    assert (order.status, case.status) == (WorkOrderStatus.IN_PROGRESS, CaseStatus.IN_PROGRESS)
    # Sent twice: one rework.
    client.post(url, {"reason": "企业仍未支付。", "idempotency_key": "r1"})
    assert case.events.filter(kind=EventKind.REWORK).count() == 1


def test_rework_page_refuses_a_satisfied_case(client, login, org, personas) -> None:
    case, order = resolved_case(org, personas)
    login(personas["dispatcher"])
    response = client.post(reverse("case_rework", args=[case.pk]), {"reason": "x", "idempotency_key": "r"})
    assert response.status_code == 409
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.ACCEPTED


def test_public_form_rates_in_place_without_a_history_entry(client, org, personas) -> None:
    case, _order = resolved_case(org, personas)
    context = rating_context(case)
    assert context is not None and context["rating_round"].number == 1
    html = render_to_string("ratings/_public_form.html", context)
    assert 'hx-post="/ratings/public/rate/"' in html and "hx-push-url" not in html
    form = context["rating_form"]
    data = {
        "token": form.initial["token"],
        "idempotency_key": form.initial["idempotency_key"],
        "solved": "no",
        "speed": "2",
        "quality": "1",
        "comment": "没解决",
    }
    response = client.post(context["rating_action"], data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "HX-Push-Url" not in response
    assert "<html" not in response.content.decode()
    assert "Thank you: your rating has been recorded." in response.content.decode()
    round_ = RatingRound.objects.get(case=case)
    assert round_.status == RoundStatus.RATED and round_.return_visit_since is not None
    assert rating_context(case) is None
    # The same form again: already rated, nothing new.
    again = client.post(context["rating_action"], {**data, "idempotency_key": "other"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "already been rated" in again.content.decode()
    assert Rating.objects.count() == 1


def test_public_form_refuses_a_forged_token(client, org, personas) -> None:
    case, _order = resolved_case(org, personas)
    data = {"token": f'{{"case": {case.pk}, "round": 1}}', "solved": "yes", "speed": "5", "quality": "5"}
    response = client.post(reverse("public_rating_submit"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert not Rating.objects.exists()


def test_case_page_shows_the_rating_and_the_rework_action_to_the_dispatcher(client, login, org, personas) -> None:
    case, _order = unsatisfied_case(org, personas)
    login(personas["dispatcher"])
    html = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "Not solved" in html
    assert reverse("case_rework", args=[case.pk]) in html
    client.logout()
    login(personas["handler"])
    html = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "Not solved" in html and reverse("case_rework", args=[case.pk]) not in html


def test_public_form_without_htmx_answers_with_the_public_layout_and_its_quick_exit(client, org, personas, settings) -> None:
    settings.PUBLIC_QUICK_EXIT_URL = "https://www.baidu.com/"
    case, _order = resolved_case(org, personas)
    context = rating_context(case)
    assert context is not None
    form = context["rating_form"]
    data = {"token": form.initial["token"], "idempotency_key": "k", "solved": "partly", "speed": "3", "quality": "4", "comment": ""}
    response = client.post(context["rating_action"], data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thank you: your rating has been recorded." in html
    # The petitioner's public layout (quick exit, no referrer), not the staff one.
    assert 'data-quick-exit-url="https://www.baidu.com/"' in html and 'class="quick-exit"' in html
    assert '<meta name="referrer" content="no-referrer">' in html
    assert Rating.objects.get(case=case).solved == "partly"
