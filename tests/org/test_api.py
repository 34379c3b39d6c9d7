"""The organisation API: identity, scoped reads, tokens and the error format."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from rightscare.org import services
from rightscare.org.models import ApiToken, token_digest


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def dispatcher_token(personas):
    return services.create_api_token(by=personas["dispatcher"], name="test")[1]


def test_me_lists_memberships_and_capabilities(client, personas, dispatcher_token):
    body = client.get("/api/v1/me", headers=bearer(dispatcher_token)).json()
    assert body["username"] == "dispatcher"
    assert [(m["unit"]["name"], m["role"]) for m in body["memberships"]] == [("Pingshan District Women's Federation", "dispatcher")]
    assert body["capabilities"] == ["dispatch_cases", "record_contacts", "view_organisation"]


def test_region_list_is_scoped(client, personas, dispatcher_token):
    body = client.get("/api/v1/regions", headers=bearer(dispatcher_token)).json()
    names = [r["name"] for r in body["items"]]
    # Pingshan's subtree and its ancestors; nothing of Longhua.
    assert names == ["广东省", "深圳市", "坪山区", "坪山街道", "六和社区"]
    assert body["count"] == 5


def test_unit_list_filters_by_kind(client, personas, dispatcher_token):
    body = client.get("/api/v1/units?kind=federation-street", headers=bearer(dispatcher_token)).json()
    assert [u["name"] for u in body["items"]] == ["坪山街道妇联"]


def test_out_of_scope_region_is_404_problem(client, org, personas, dispatcher_token):
    response = client.get(f"/api/v1/regions/{org.regions['longhua'].pk}", headers=bearer(dispatcher_token))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_missing_region_answers_like_out_of_scope(client, org, personas, dispatcher_token):
    missing = client.get("/api/v1/regions/999999", headers=bearer(dispatcher_token))
    hidden = client.get(f"/api/v1/regions/{org.regions['longhua'].pk}", headers=bearer(dispatcher_token))
    assert (missing.status_code, missing.content) == (hidden.status_code, hidden.content)


def test_validation_error_names_the_field(client, personas, dispatcher_token):
    before = ApiToken.objects.count()
    response = client.post("/api/v1/tokens", {"name": "", "days": 999}, content_type="application/json", headers=bearer(dispatcher_token))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == {"name", "days"}
    assert ApiToken.objects.count() == before


def test_malformed_json_is_a_client_error(client, personas, dispatcher_token):
    response = client.post("/api/v1/tokens", "{not json", content_type="application/json", headers=bearer(dispatcher_token))
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"


def test_wrong_method_is_405_problem(client, personas, dispatcher_token):
    response = client.delete("/api/v1/me", headers=bearer(dispatcher_token))
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"


def test_unknown_api_path_is_404_problem(client, personas, dispatcher_token):
    response = client.get("/api/v1/nothing-here", headers=bearer(dispatcher_token))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_unauthenticated_is_401_problem(client, db):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_token_is_stored_only_as_digest(personas):
    token, plain = services.create_api_token(by=personas["dispatcher"], name="bridge")
    assert plain.startswith("rc_") and len(plain) > 40
    assert token.digest == token_digest(plain)
    assert plain not in {token.prefix, token.digest, token.name}


def test_created_token_is_shown_once(client, personas, dispatcher_token):
    response = client.post("/api/v1/tokens", {"name": "12345 bridge", "days": 30}, content_type="application/json", headers=bearer(dispatcher_token))
    assert response.status_code == 201
    new_token = response.json()["token"]
    assert client.get("/api/v1/me", headers=bearer(new_token)).status_code == 200
    listed = client.get("/api/v1/tokens", headers=bearer(dispatcher_token)).json()
    assert all("token" not in item for item in listed)


def test_idempotency_key_creates_one_token(client, personas, dispatcher_token):
    headers = {**bearer(dispatcher_token), "Idempotency-Key": "abc-123"}
    first = client.post("/api/v1/tokens", {"name": "retry", "days": 30}, content_type="application/json", headers=headers)
    second = client.post("/api/v1/tokens", {"name": "retry", "days": 30}, content_type="application/json", headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert ApiToken.objects.filter(name="retry").count() == 1


def test_expired_token_is_refused(client, personas):
    _token, plain = services.create_api_token(by=personas["dispatcher"], name="short", days=1)
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 401


def test_revoked_token_is_refused_at_once(client, personas):
    token, plain = services.create_api_token(by=personas["dispatcher"], name="bridge")
    services.revoke_api_token(by=personas["dispatcher"], token=token)
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 401


def test_revoke_through_api(client, personas, dispatcher_token):
    token, plain = services.create_api_token(by=personas["dispatcher"], name="old")
    response = client.post(f"/api/v1/tokens/{token.pk}/revoke", headers=bearer(dispatcher_token))
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 401


def test_someone_elses_token_cannot_be_revoked(client, personas, dispatcher_token):
    token, plain = services.create_api_token(by=personas["operator"], name="theirs")
    response = client.post(f"/api/v1/tokens/{token.pk}/revoke", headers=bearer(dispatcher_token))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200


def test_token_of_deactivated_user_is_refused(client, personas, dispatcher_token):
    personas["dispatcher"].is_active = False
    personas["dispatcher"].save()
    assert client.get("/api/v1/me", headers=bearer(dispatcher_token)).status_code == 401


def test_last_used_is_recorded(client, personas):
    token, plain = services.create_api_token(by=personas["dispatcher"], name="bridge")
    client.get("/api/v1/me", headers=bearer(plain))
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_session_auth_requires_csrf_for_writes(personas):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["dispatcher"])
    response = client.post("/api/v1/tokens", {"name": "x", "days": 3}, content_type="application/json")
    assert response.status_code == 403
    assert ApiToken.objects.count() == 0


def test_nul_character_is_refused_with_422(client, personas, dispatcher_token):
    response = client.post("/api/v1/tokens", {"name": "a\x00b", "days": 3}, content_type="application/json", headers=bearer(dispatcher_token))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert ApiToken.objects.filter(user=personas["dispatcher"]).count() == 1


def test_nul_character_in_query_is_400_problem(client, personas, dispatcher_token):
    response = client.get("/api/v1/regions?q=%00", headers=bearer(dispatcher_token))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_nul_character_in_page_search_is_400(client, personas):
    client.force_login(personas["dispatcher"])
    assert client.get("/org/regions/?q=a%00b").status_code == 400
