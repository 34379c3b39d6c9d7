"""Open311 GeoReport v2: every answer checked field by field against the spec
(https://wiki.open311.org/GeoReport_v2), errors in the spec's format with the right status."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from rightscare.cases.models import Case
from rightscare.intake.models import Channel, Contact, ReviewState
from rightscare.open311 import services
from rightscare.open311.models import ChannelRequest
from rightscare.petitioners import services as petitioners
from rightscare.petitioners.models import Submission
from tests.open311.conftest import request_fields

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def assert_errors(response, status: int) -> list[dict]:
    """The spec's error format: a list of {code: int, description: str}, with the HTTP status."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and body
    for error in body:
        assert set(error) == {"code", "description"}
        assert error["code"] == status and isinstance(error["description"], str) and error["description"]
    return body


# --- services -------------------------------------------------------------------------------------


def test_services_are_the_current_categories(client, org, category):
    response = client.get("/open311/v2/services.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    services_list = response.json()
    assert isinstance(services_list, list)
    by_code = {item["service_code"]: item for item in services_list}
    item = by_code["unlawful-dismissal"]
    assert set(item) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert item["service_name"] == category.name_en
    assert item["group"] == category.parent.name_en
    assert item["description"] == f"{category.parent.name_en}: {category.name_en}"
    assert item["metadata"] is True and item["type"] == "batch"
    assert item["keywords"].split(",")[:2] == ["unlawful-dismissal", category.name]
    # A first-level category with children is a group, not a service.
    assert category.parent.code not in by_code
    assert set(by_code) == set(petitioners.current_categories().values_list("code", flat=True))


def test_services_are_realtime_for_a_trusted_key(client, keys):
    trusted = client.get("/open311/v2/services.json", {"api_key": keys["app_plain"]}).json()
    queued = client.get("/open311/v2/services.json", {"api_key": keys["mini_plain"]}).json()
    assert {item["type"] for item in trusted} == {"realtime"}
    assert {item["type"] for item in queued} == {"batch"}
    assert_errors(client.get("/open311/v2/services.json", {"api_key": "o311_wrong"}), 403)


def test_service_definition_lists_the_safe_contact_attributes(client, category):
    response = client.get("/open311/v2/services/unlawful-dismissal.json")
    assert response.status_code == 200
    definition = response.json()
    assert set(definition) == {"service_code", "attributes"} and definition["service_code"] == "unlawful-dismissal"
    attributes = definition["attributes"]
    assert [a["code"] for a in attributes] == ["may_call", "may_text", "safe_from", "safe_until"]
    for order, attribute in enumerate(attributes, start=1):
        assert set(attribute) == {"variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"}
        assert attribute["variable"] is True and attribute["required"] is False and attribute["order"] == order
        assert isinstance(attribute["description"], str) and attribute["description"]
    assert attributes[0]["datatype"] == "singlevaluelist"
    assert attributes[0]["values"] == [{"key": "true", "name": "Yes"}, {"key": "false", "name": "No"}]
    assert attributes[2]["datatype"] == "string" and attributes[2]["values"] == []


def test_unknown_service_is_404(client, db):
    assert_errors(client.get("/open311/v2/services/no-such-thing.json"), 404)


# --- submitting -----------------------------------------------------------------------------------


def test_untrusted_key_queues_the_request_and_answers_a_token(post_request, keys, org):
    response = post_request(keys["mini_plain"])
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    item = body[0]
    assert set(item) == {"token", "service_notice", "pin", "expected_datetime"}
    assert CODE.match(item["token"]) and re.fullmatch(r"\d{6}", item["pin"]) and ISO.match(item["expected_datetime"])
    assert item["service_notice"] == "New requests are checked within a few working days."
    contact = Contact.objects.get()
    assert (contact.channel, contact.review_state, contact.case_id, contact.unit) == (Channel.MINI_PROGRAM, ReviewState.PENDING, None, org.units["pingshan"])
    details = Submission.objects.get(contact=contact)
    assert (details.anonymous, details.region, details.may_call, details.may_text) == (True, org.regions["pingshan_street"], True, False)
    assert (details.safe_from.isoformat(), details.safe_until.isoformat()) == ("09:00:00", "17:00:00")
    assert ChannelRequest.objects.get(contact=contact).key == keys["mini"]
    tracking = petitioners.find_tracking(item["token"])
    assert tracking is not None and petitioners.check_pin(tracking, item["pin"])


def test_trusted_key_makes_a_case_at_once(post_request, keys, service_account):
    response = post_request(keys["app_plain"], account_id="u-42", first_name="小", last_name="红")
    assert response.status_code == 200
    [item] = response.json()
    assert set(item) == {"service_request_id", "service_notice", "account_id", "pin", "expected_datetime"}
    assert item["account_id"] == "u-42" and CODE.match(item["service_request_id"])
    case = Case.objects.get()
    assert case.status == "registered" and Contact.objects.get().case == case
    # The id is the tracking code, never the case's number or database id.
    assert item["service_request_id"] not in (case.number, str(case.pk))
    assert petitioners.current_case(petitioners.find_tracking(item["service_request_id"])) == case


def test_trusted_key_without_service_account_answers_a_token(post_request, keys):
    [item] = post_request(keys["app_plain"]).json()
    assert "token" in item and "service_request_id" not in item and Case.objects.count() == 0


def test_json_body_with_nested_attributes(client, keys, org):
    body = {
        "api_key": keys["mini_plain"],
        "service_code": "unlawful-dismissal",
        "description": "He took my wages.",
        "address_string": "深圳市坪山区六和社区某路1号",
        "lat": 22.7,
        "long": 114.35,
        "attribute": {"may_call": False, "may_text": "false"},
    }
    response = client.post("/open311/v2/requests.json", body, content_type="application/json")
    assert response.status_code == 200, response.content
    details = Submission.objects.get()
    assert details.region == org.regions["pingshan_community"] and details.may_call is False and details.anonymous is True
    assert details.address == "深圳市坪山区六和社区某路1号 (22.700000, 114.350000)"


def test_media_url_is_kept_as_text_never_fetched(post_request, keys):
    post_request(keys["mini_plain"], media_url="https://cdn.example.org/a.jpg")
    assert Contact.objects.get().content.endswith("Media (not fetched): https://cdn.example.org/a.jpg")


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"service_code": None}, 400),
        ({"service_code": ""}, 400),
        ({"service_code": "no-such-service"}, 400),
        ({"description": ""}, 400),
        ({"address_id": None}, 400),  # lat/long alone are not geocoded
        ({"address_id": "999999999999"}, 400),
        ({"attribute[may_call]": "perhaps"}, 400),
        ({"attribute[safe_until]": None}, 400),
        ({"phone": "12"}, 400),
        ({"lat": "north"}, 400),
    ],
)
def test_invalid_requests_are_refused_and_nothing_is_stored(post_request, keys, overrides, status):
    assert_errors(post_request(keys["mini_plain"], **overrides), status)
    assert Contact.objects.count() == 0 and ChannelRequest.objects.count() == 0


@pytest.mark.parametrize("api_key", [None, "", "o311_not-a-key", "rc_a-staff-token"])
def test_missing_or_unknown_key_is_403(client, keys, api_key):
    fields = request_fields(api_key or "")
    if api_key is None:
        del fields["api_key"]
    assert_errors(client.post("/open311/v2/requests.json", fields), 403)
    assert Contact.objects.count() == 0


def test_revoked_key_is_refused(post_request, keys, personas, client):
    services.revoke_channel_key(by=personas["system_admin"], key=keys["mini"])
    assert_errors(post_request(keys["mini_plain"]), 403)
    assert_errors(client.get("/open311/v2/updates.json", {"api_key": keys["mini_plain"]}), 403)
    assert Contact.objects.count() == 0


def test_staff_credentials_grant_nothing(post_request, personas, keys):
    from rightscare.org.services import create_api_token

    token = create_api_token(by=personas["operator"], name="t")[1]
    assert_errors(post_request("", headers={"Authorization": f"Bearer {token}"}), 403)


def test_key_rate_limit_is_429(post_request, keys, personas):
    _key, plain = services.create_channel_key(by=personas["system_admin"], name="slow", channel="api", rate_limit=1)
    assert post_request(plain).status_code == 200
    assert_errors(post_request(plain, phone="139 0000 0001"), 429)
    assert Contact.objects.count() == 1


def test_bad_keys_from_one_address_are_rate_limited(post_request, keys, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "open311_bad_key_ip": (2, 3600)}
    for _ in range(2):
        assert_errors(post_request("o311_guess"), 403)
    assert_errors(post_request(keys["mini_plain"]), 429)


def test_same_idempotency_key_answers_the_first_request(post_request, keys):
    first = post_request(keys["mini_plain"], headers={"Idempotency-Key": "order-1"}).json()[0]
    again = post_request(keys["mini_plain"], headers={"Idempotency-Key": "order-1"}).json()[0]
    assert Contact.objects.count() == 1
    assert set(again) == set(first) and again["pin"] != first["pin"]
    # The fresh code and PIN replace the first ones; the feed names the request by the new code.
    assert petitioners.find_tracking(first["token"]) is None and petitioners.check_pin(petitioners.find_tracking(again["token"]), again["pin"])
    assert ChannelRequest.objects.get().code == again["token"]
    # Another key choosing the same Idempotency-Key is another request.
    post_request(keys["app_plain"], headers={"Idempotency-Key": "order-1"}, phone="139 0000 0002")
    assert Contact.objects.count() == 2


def test_malformed_idempotency_key_is_400(post_request, keys):
    assert_errors(post_request(keys["mini_plain"], headers={"Idempotency-Key": "with space"}), 400)


# --- tokens and requests --------------------------------------------------------------------------


def _confirm(org, personas, token: str) -> Case:
    tracking = petitioners.find_tracking(token)
    contact = tracking.contact
    return petitioners.confirm_submission(
        contact=contact,
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=contact.submission.category,
        region=contact.submission.region,
        summary="孕期被辞退。",
    )


def test_token_answers_the_request_id_once_it_is_a_case(client, post_request, keys, org, personas):
    token = post_request(keys["mini_plain"]).json()[0]["token"]
    pending = client.get(f"/open311/v2/tokens/{token}.json")
    assert pending.status_code == 200 and pending.json() == [{"token": token, "service_request_id": None}]
    _confirm(org, personas, token)
    assert client.get(f"/open311/v2/tokens/{token.lower()}.json").json() == [{"token": token, "service_request_id": token}]
    assert_errors(client.get("/open311/v2/tokens/0000-0000-0000-0000.json"), 404)


def test_request_details_with_the_pin(client, post_request, keys, org, personas, category):
    item = post_request(keys["mini_plain"], first_name="王", last_name="芳").json()[0]
    code, pin = item["token"], item["pin"]
    _confirm(org, personas, code)
    response = client.get(f"/open311/v2/requests/{code}.json", {"pin": pin})
    assert response.status_code == 200
    [request] = response.json()
    assert set(request) == {
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "public_status",
        "notes",
    }
    assert request["service_request_id"] == code and request["status"] == "open" and request["public_status"] == "registered"
    assert request["status_notes"] == "Registered, a responsible unit is being chosen"
    assert (request["service_code"], request["service_name"]) == ("unlawful-dismissal", category.name_en)
    assert request["agency_responsible"] == org.units["pingshan"].display_name
    assert ISO.match(request["requested_datetime"]) and ISO.match(request["updated_datetime"])
    assert request["notes"][0]["description"] == "Your request was received." and ISO.match(request["notes"][0]["datetime"])
    # Nothing personal: no description, address, name or phone; no person responsible.
    text = response.content.decode()
    for private in ("辞退了", "王", "芳", "13800138000", "138 0013 8000", "address", "operator"):
        assert private not in text
    # The header carries the PIN as well.
    assert client.get(f"/open311/v2/requests/{code}.json", headers={"X-Tracking-PIN": pin}).status_code == 200


def test_rejected_request_is_closed(client, post_request, keys, personas):
    item = post_request(keys["mini_plain"]).json()[0]
    petitioners.reject_submission(contact=Contact.objects.get(), by=personas["operator"], reason="不属于受理范围。")
    [request] = client.get(f"/open311/v2/requests/{item['token']}.json", {"pin": item["pin"]}).json()
    assert (request["status"], request["public_status"], request["status_notes"]) == ("closed", "not_accepted", "Not accepted")


def test_wrong_pin_and_unknown_id_look_identical(client, post_request, keys):
    item = post_request(keys["mini_plain"]).json()[0]
    wrong_pin = client.get(f"/open311/v2/requests/{item['token']}.json", {"pin": "000000" if item["pin"] != "000000" else "111111"})
    unknown = client.get("/open311/v2/requests/ZZZZ-ZZZZ-ZZZZ-ZZZZ.json", {"pin": item["pin"]})
    malformed = client.get("/open311/v2/requests/42.json", {"pin": item["pin"]})
    assert_errors(wrong_pin, 404)
    assert wrong_pin.content == unknown.content == malformed.content


def test_wrong_attempts_are_rate_limited(client, post_request, keys, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "track_wrong_code": (3, 3600)}
    item = post_request(keys["mini_plain"]).json()[0]
    for _ in range(3):
        assert_errors(client.get(f"/open311/v2/requests/{item['token']}.json", {"pin": "999999" if item["pin"] != "999999" else "888888"}), 404)
    # Even the right PIN is refused now: guessing cannot go on.
    assert_errors(client.get(f"/open311/v2/requests/{item['token']}.json", {"pin": item["pin"]}), 429)


def test_lookups_per_address_are_rate_limited(client, post_request, keys, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "track_wrong_ip": (2, 3600)}
    for guess in ("AAAA-AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB-BBBB"):
        assert_errors(client.get(f"/open311/v2/tokens/{guess}.json"), 404)
    assert_errors(client.get("/open311/v2/tokens/CCCC-CCCC-CCCC-CCCC.json"), 429)


# --- the status-update feed -----------------------------------------------------------------------


def test_updates_list_only_the_keys_own_requests(client, post_request, keys, org, personas, service_account):
    mini = post_request(keys["mini_plain"]).json()[0]
    post_request(keys["app_plain"], phone="139 0000 0003")
    _confirm(org, personas, mini["token"])
    response = client.get("/open311/v2/updates.json", {"api_key": keys["mini_plain"]})
    assert response.status_code == 200
    updates = response.json()
    assert [u["service_request_id"] for u in updates] == [mini["token"]] * len(updates) and len(updates) >= 2
    for update in updates:
        assert set(update) == {"update_id", "service_request_id", "status", "updated_datetime", "description"}
        assert update["status"] == "open" and ISO.match(update["updated_datetime"]) and len(update["update_id"]) == 20
    assert updates[0]["description"] == "Your request was received."
    # Stable ids: the same notes keep their ids.
    assert [u["update_id"] for u in client.get("/open311/v2/updates.json", {"api_key": keys["mini_plain"]}).json()] == [u["update_id"] for u in updates]
    # The window: nothing before the request.
    earlier = (timezone.now() - timedelta(days=3)).isoformat()
    assert client.get("/open311/v2/updates.json", {"api_key": keys["mini_plain"], "start_date": earlier, "end_date": earlier}).json() == []


def test_updates_mark_the_last_note_of_a_finished_request_closed(client, post_request, keys, personas):
    post_request(keys["mini_plain"])
    petitioners.reject_submission(contact=Contact.objects.get(), by=personas["operator"], reason="不属于受理范围。")
    updates = client.get("/open311/v2/updates.json", {"api_key": keys["mini_plain"]}).json()
    assert [u["status"] for u in updates] == ["open", "closed"]
    assert updates[-1]["description"] == "Your request was not accepted: 不属于受理范围。"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 403),
        ({"start_date": "yesterday"}, 400),
        ({"start_date": "2026-12-02T00:00:00+08:00", "end_date": "2026-12-01T00:00:00+08:00"}, 400),
        ({"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-12-01T00:00:00+08:00"}, 400),
        # Found by the fuzz on PostgreSQL: dates that arithmetic or the database cannot hold.
        ({"end_date": "0001-01-01T00:00:00"}, 400),
        ({"start_date": "1383-05-08T14:07:05-17:05"}, 400),
        ({"start_date": "9999-12-31T23:59:59-14:00", "end_date": "9999-12-31T23:59:59-14:00"}, 400),
    ],
)
def test_feed_errors(client, keys, query, status):
    if status != 403:
        query = {"api_key": keys["mini_plain"], **query}
    assert_errors(client.get("/open311/v2/updates.json", query), status)


def test_an_offset_postgresql_cannot_store_is_read_in_utc(client, keys):
    """+16:00 is a valid ISO 8601 offset but not a PostgreSQL one: the window is converted to UTC first (it was a 500)."""
    response = client.get(
        "/open311/v2/updates.json", {"api_key": keys["mini_plain"], "start_date": "2000-01-01T00:00:00+16:00", "end_date": "2000-01-01T12:00:00+16:00"}
    )
    assert (response.status_code, response.json()) == (200, [])


# --- the framework's own errors keep the format -----------------------------------------------------


def test_unknown_path_and_wrong_method_keep_the_format(client, db):
    assert_errors(client.get("/open311/v2/nothing-here.json"), 404)
    response = client.delete("/open311/v2/services.json")
    assert_errors(response, 405)
    assert response["Allow"] == "GET"
    assert_errors(client.get("/open311/v2/requests.json"), 405)


def test_openapi_document_is_served(client, db):
    cache.clear()
    document = client.get("/open311/v2/openapi.json").json()
    assert document["info"]["title"] == "RightsCare Open311 GeoReport v2"
    assert set(document["paths"]) == {
        "/open311/v2/services.json",
        "/open311/v2/services/{service_code}.json",
        "/open311/v2/requests.json",
        "/open311/v2/tokens/{token}.json",
        "/open311/v2/requests/{service_request_id}.json",
        "/open311/v2/updates.json",
    }
    assert "application/x-www-form-urlencoded" in document["paths"]["/open311/v2/requests.json"]["post"]["requestBody"]["content"]
