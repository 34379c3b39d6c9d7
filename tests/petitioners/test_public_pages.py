"""The public pages: the request form answered in place, and tracking that says the same to
a wrong PIN as to an unknown code."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from rightscare.cases import services as cases
from rightscare.cases.models import Visibility
from rightscare.intake.models import Contact
from rightscare.petitioners import services
from rightscare.petitioners.models import SubmissionFile, TrackingCode
from tests.petitioners.conftest import form_data

HTMX = {"HTTP_HX_REQUEST": "true"}


def _post_form(client, org, category, **overrides):
    return client.post("/submit/", form_data(org, category, **overrides), **HTMX)


def test_form_page_is_public_and_has_a_quick_exit(client, org, personas, category):
    response = client.get("/submit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-quick-exit" in html and "js/public.js" in html
    assert "hx-push-url" not in html and "main-nav" not in html
    assert category.display_name in html and org.regions["pingshan_community"].display_name in html
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


def test_chinese_by_default(org, personas):
    from django.test import Client

    html = Client().get("/submit/").content.decode()
    assert 'lang="zh-Hans"' in html


def test_submission_is_answered_in_place_with_code_and_pin(client, org, personas, category):
    response = _post_form(client, org, category)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="submit-panel"' in html
    code = re.search(r"data-tracking-code>([0-9A-Z-]{19})<", html).group(1)
    pin = re.search(r"data-tracking-pin>(\d{6})<", html).group(1)
    tracking = services.find_tracking(code)
    assert tracking is not None and services.check_pin(tracking, pin)
    contact = Contact.objects.get()
    assert (contact.channel, contact.review_state) == ("web_form", "pending")
    assert (contact.submission.safe_from.hour, contact.submission.safe_until.hour) == (9, 17)


def test_double_submission_creates_one_record(client, org, personas, category):
    _post_form(client, org, category)
    _post_form(client, org, category)
    assert Contact.objects.count() == 1 and TrackingCode.objects.count() == 1


def test_honeypot_records_nothing_but_looks_accepted(client, org, personas, category):
    response = _post_form(client, org, category, website="http://spam.example")
    assert response.status_code == 200
    assert "data-tracking-code" in response.content.decode()
    assert Contact.objects.count() == 0 and TrackingCode.objects.count() == 0


def test_invalid_form_is_answered_in_place(client, org, personas, category):
    response = _post_form(client, org, category, description="", phone="")
    assert response.status_code == 422
    html = response.content.decode()
    assert "<html" not in html and "field--invalid" in html
    assert Contact.objects.count() == 0


def test_rate_limit_per_address(client, org, personas, category, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "submit_ip": (2, 3600)}
    assert _post_form(client, org, category, idempotency_key="a", phone="138 0013 8001").status_code == 200
    assert _post_form(client, org, category, idempotency_key="b", phone="138 0013 8002").status_code == 200
    refused = _post_form(client, org, category, idempotency_key="c", phone="138 0013 8003")
    assert refused.status_code == 429
    assert Contact.objects.count() == 2


def test_rate_limit_per_phone(client, org, personas, category, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "submit_phone": (1, 86400)}
    assert _post_form(client, org, category, idempotency_key="a").status_code == 200
    assert _post_form(client, org, category, idempotency_key="b").status_code == 429
    assert Contact.objects.count() == 1


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (8, 8), "red")
    exif = Image.Exif()
    exif[0x8825] = {2: (22.0, 42.0, 0.0)}  # GPSInfo
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif)
    return output.getvalue()


def test_photo_is_stored_without_metadata_and_encrypted(client, org, personas, category, settings):
    data = _jpeg_with_gps()
    assert b"Exif" in data
    upload = SimpleUploadedFile("injury.jpg", data, content_type="image/jpeg")
    response = client.post("/submit/", {**form_data(org, category), "uploads": upload}, **HTMX)
    assert response.status_code == 200
    item = SubmissionFile.objects.get()
    assert (item.name, item.content_type) == ("injury.jpg", "image/jpeg")
    from pathlib import Path

    stored = (Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / item.storage_name).read_bytes()
    assert stored.startswith(b"gcm1$")
    from rightscare.cases import attachments
    from rightscare.cases.models import Attachment

    plain = attachments.read(Attachment(storage_name=item.storage_name, encrypted=True))
    assert b"Exif" not in plain


def test_disallowed_file_type_is_refused(client, org, personas, category):
    upload = SimpleUploadedFile("virus.jpg", b"MZ\x90\x00 not a picture", content_type="image/jpeg")
    response = client.post("/submit/", {**form_data(org, category), "uploads": upload}, **HTMX)
    assert response.status_code == 422
    assert "Only JPEG or PNG pictures" in response.content.decode()
    assert Contact.objects.count() == 0 and SubmissionFile.objects.count() == 0


def test_oversize_request_is_refused_before_reading(rf, org, personas, category):
    from rightscare.petitioners.views import submit

    request = rf.post("/submit/", form_data(org, category), CONTENT_LENGTH=str(40 * 1024 * 1024))
    response = submit(request)
    assert response.status_code == 413
    assert Contact.objects.count() == 0


def test_too_long_description_is_refused(client, org, personas, category):
    response = _post_form(client, org, category, description="长" * (services.MAX_DESCRIPTION + 1))
    assert response.status_code == 422
    assert Contact.objects.count() == 0


# --- tracking ----------------------------------------------------------------------------


def _track(client, code, pin=""):
    return client.post("/track/", {"code": code, "pin": pin}, **HTMX)


def test_code_alone_shows_status_but_no_unit_or_notes(client, submit):
    result = submit()
    html = _track(client, result.code).content.decode()
    assert 'data-status="received"' in html and "Received, waiting to be checked" in html
    assert "data-unit" not in html and "Your request was received." not in html


def test_code_and_pin_show_unit_and_public_notes_but_no_person(client, submit, personas, org, category):
    result = submit()
    contact = Contact.objects.get(pk=result.contact.pk)
    case = services.confirm_submission(
        contact=contact,
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=category,
        region=org.regions["pingshan_community"],
        summary=contact.content,
    )
    [order] = cases.dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"])
    order = cases.sign_for_work_order(work_order=order, by=personas["handler"])
    order = cases.record_first_contact(work_order=order, by=personas["handler"], note="电话联系了她。")
    cases.add_progress_note(work_order=order, by=personas["handler"], text="内部记录：约谈企业负责人李某。", visibility=Visibility.HANDLING)
    cases.add_progress_note(work_order=order, by=personas["handler"], text="对外", visibility=Visibility.PUBLIC, public_text="已约谈用人单位。")
    html = _track(client, result.code, result.pin).content.decode()
    assert "data-unit>坪山街道妇联<" in html
    assert "已约谈用人单位。" in html and "Your request has been registered." in html
    assert "李某" not in html and "电话联系了她" not in html
    for user in personas.values():
        assert user.get_full_name() not in html and user.username not in html
    assert html.index("Your request was received.") < html.index("Your request has been registered.") < html.index("已约谈用人单位。")


def test_wrong_pin_and_unknown_code_answer_identically(client, submit):
    result = submit()
    other = "0000-0000-0000-0000" if result.code != "0000-0000-0000-0000" else "1111-1111-1111-1111"
    wrong_pin = "000000" if result.pin != "000000" else "111111"
    known = _track(client, result.code, wrong_pin)
    unknown = _track(client, other, wrong_pin)
    assert (known.status_code, unknown.status_code) == (200, 200)
    assert known.content == unknown.content
    assert known.headers.keys() == unknown.headers.keys()


def test_wrong_pins_are_limited_per_code_even_for_the_right_one(client, submit, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "track_wrong_code": (2, 3600), "track_wrong_ip": (100, 3600)}
    result = submit()
    wrong_pin = "000000" if result.pin != "000000" else "111111"
    assert _track(client, result.code, wrong_pin).status_code == 200
    assert _track(client, result.code, wrong_pin).status_code == 200
    blocked = _track(client, result.code, result.pin)
    assert blocked.status_code == 429 and "data-unit" not in blocked.content.decode()
    # An unknown code is blocked exactly the same way after as many wrong PINs.
    unknown = "0000-0000-0000-0000"
    _track(client, unknown, wrong_pin)
    _track(client, unknown, wrong_pin)
    assert _track(client, unknown, wrong_pin).content == blocked.content


def test_wrong_attempts_are_limited_per_address(client, submit, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "track_wrong_ip": (3, 3600)}
    result = submit()
    for number in range(3):
        assert _track(client, f"0000-0000-0000-000{number}").status_code == 200
    assert _track(client, result.code).status_code == 429


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_tracking_page_renders(client, org, personas, language):
    response = client.get("/track/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert "hx-push-url" not in response.content.decode()


def test_tracking_without_htmx_renders_the_whole_page(client, submit):
    result = submit()
    response = client.post("/track/", {"code": result.code})
    assert response.status_code == 200 and "<html" in response.content.decode() and 'data-status="received"' in response.content.decode()


def test_rating_slot_passes_on_what_ratings_provides(submit, monkeypatch, personas, org, category):
    from rightscare.petitioners import views

    result = submit()
    contact = Contact.objects.get(pk=result.contact.pk)
    services.confirm_submission(
        contact=contact,
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=category,
        region=org.regions["pingshan_community"],
        summary=contact.content,
    )
    tracking = services.find_tracking(result.code)
    import rightscare.ratings.public as ratings_public

    monkeypatch.setattr(ratings_public, "rating_context", lambda case: None)
    assert views.rating_slot(tracking) == {}
    monkeypatch.setattr(ratings_public, "rating_context", lambda case: {"rating_action": f"/rate/{case.pk}/"})
    assert views.rating_slot(tracking) == {"rating_action": f"/rate/{services.current_case(tracking).pk}/"}
