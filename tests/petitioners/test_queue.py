"""The intake queue: who sees which submissions, and confirming, attaching and rejecting them."""

from __future__ import annotations

from rightscare.cases.models import Attachment, Case
from rightscare.intake.models import Contact, ReviewState
from rightscare.org.models import Membership
from rightscare.petitioners import services
from tests.factories import UserFactory


def test_queue_is_scoped_to_units_taking_intake_in_the_area(client, login, org, personas, submit):
    pingshan = submit()
    longhua = submit(region=org.regions["longhua_community"], phone="138 0013 8111")
    assert pingshan.contact.unit_id == org.units["pingshan"].pk and longhua.contact.unit_id == org.units["longhua"].pk
    # A city hotline operator covers the whole city's area.
    city_operator = UserFactory()
    Membership.objects.create(user=city_operator, unit=org.units["city"], role="intake_operator")
    seen = {
        name: set(services.pending_submissions_for(user).values_list("pk", flat=True)) for name, user in {**personas, "city_operator": city_operator}.items()
    }
    assert seen["operator"] == seen["dispatcher"] == {pingshan.contact.pk}
    assert seen["operator_twin"] == seen["dispatcher_twin"] == {longhua.contact.pk}
    assert seen["city_operator"] == {pingshan.contact.pk, longhua.contact.pk}
    assert all(not found for name, found in seen.items() if name not in {"operator", "dispatcher", "operator_twin", "dispatcher_twin", "city_operator"})
    login(personas["operator"])
    html = client.get("/intake/submissions/").content.decode()
    assert f"/intake/submissions/{pingshan.contact.pk}/" in html and f"/intake/submissions/{longhua.contact.pk}/" not in html
    assert client.get(f"/intake/submissions/{longhua.contact.pk}/").status_code == 404


def test_detail_is_audited(client, login, personas, submit):
    from rightscare.audit.models import AuditEntry

    result = submit()
    login(personas["operator"])
    response = client.get(f"/intake/submissions/{result.contact.pk}/")
    assert response.status_code == 200 and "公司在我怀孕后把我辞退了。" in response.content.decode()
    assert AuditEntry.objects.filter(action="read", object_id=str(result.contact.pk)).count() == 1


def test_confirm_page_registers_a_case_and_moves_the_files(client, login, org, personas, submit, category):
    from rightscare.petitioners.services import SubmittedFile

    result = submit(files=[SubmittedFile(name="合同.pdf", data=b"%PDF-1.4\n%%EOF\n")])
    login(personas["operator"])
    data = {
        "idempotency_key": "k1",
        "unit": str(org.units["pingshan"].pk),
        "request_type": "help",
        "category": str(category.pk),
        "region": str(org.regions["pingshan_community"].pk),
        "urgency": "normal",
        "summary": "孕期被辞退。",
        "address": "",
    }
    response = client.post(f"/intake/submissions/{result.contact.pk}/confirm/", data)
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    client.post(f"/intake/submissions/{result.contact.pk}/confirm/", data)
    assert Case.objects.count() == 1
    attachment = Attachment.objects.get(case=case)
    assert (attachment.name, attachment.encrypted) == ("合同.pdf", True)
    assert client.get(f"/cases/{case.pk}/attachments/{attachment.pk}/").status_code == 200
    assert services.current_case(services.find_tracking(result.code)) == case


def test_reject_page_needs_a_reason(client, login, personas, submit):
    result = submit()
    login(personas["dispatcher"])
    refused = client.post(f"/intake/submissions/{result.contact.pk}/reject/", {"reason": ""})
    assert refused.status_code == 422
    assert Contact.objects.get(pk=result.contact.pk).review_state == ReviewState.PENDING
    done = client.post(f"/intake/submissions/{result.contact.pk}/reject/", {"reason": "重复提交。", "idempotency_key": "r"})
    assert done.status_code == 302
    assert Contact.objects.get(pk=result.contact.pk).review_state == ReviewState.REJECTED


def test_submitted_file_download_is_scoped(client, login, personas, submit):
    from rightscare.petitioners.models import SubmissionFile
    from rightscare.petitioners.services import SubmittedFile

    result = submit(files=[SubmittedFile(name="证据.pdf", data=b"%PDF-1.4\n%%EOF\n")])
    item = SubmissionFile.objects.get(contact=result.contact)
    login(personas["operator"])
    response = client.get(f"/intake/submissions/files/{item.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4\n%%EOF\n"
    login(personas["operator_twin"])
    assert client.get(f"/intake/submissions/files/{item.pk}/").status_code == 404


def test_hotline_call_gets_a_code_shown_once(client, login, org, personas, category):
    from django.contrib.messages import get_messages

    from rightscare.petitioners.models import TrackingCode

    login(personas["operator"])
    data = {
        "idempotency_key": "call-1",
        "caller_phone": "13800138021",
        "caller_name": "赵女士",
        "caller_sex": "female",
        "channel": "hotline",
        "unit": str(org.units["pingshan"].pk),
        "request_type": "help",
        "category": str(category.pk),
        "region": str(org.regions["pingshan_community"].pk),
        "urgency": "normal",
        "content": "孕期被辞退。",
    }
    response = client.post("/intake/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    case = Case.objects.get()
    shown = [str(message) for message in get_messages(response.wsgi_request) if "tracking-code" in message.tags]
    assert len(shown) == 1
    code = shown[0].split("Tracking code: ")[1].split(" ")[0]
    pin = shown[0].rsplit("PIN: ", 1)[1]
    tracking = services.find_tracking(code)
    assert tracking == TrackingCode.objects.get(case=case) and services.check_pin(tracking, pin)
