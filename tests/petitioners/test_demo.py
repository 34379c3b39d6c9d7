"""The demo's finished cases have tracking codes; Zhao's is the one the user guide names."""

from __future__ import annotations

import io

from rightscare.cases.models import Case
from rightscare.org.demo import load_demo
from rightscare.org.models import Unit
from rightscare.petitioners import demo, services


def test_zhao_demo_code_shows_the_closed_case(db, settings, tmp_path, client):
    settings.DATA_DIR = tmp_path
    load_demo(stdout=io.StringIO())
    zhao = Case.objects.get(category__code="pregnancy-discrimination")
    tracking = services.find_tracking(demo.ZHAO_CODE)
    assert tracking is not None and services.current_case(tracking) == zhao
    assert services.check_pin(tracking, demo.ZHAO_PIN)
    details = services.public_details(tracking)
    assert (details.status.state, details.unit_name) == ("closed", Unit.objects.get(name="坪山区妇联").display_name)
    messages = [note.message for note in details.notes]
    assert messages[0] == "Your request has been registered." and messages[-1] == "Your request has been closed."
    assert messages.count("承办单位已组织协商。") == 2
    assert [note.at for note in details.notes] == sorted(note.at for note in details.notes)
    # The Cai family's case is still being handled: no code from the demo loader.
    assert not Case.objects.get(category__code="dv-with-children").tracking_codes.exists()
    html = client.post("/track/", {"code": demo.ZHAO_CODE.lower(), "pin": demo.ZHAO_PIN}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="closed"' in html and "承办单位已组织协商。" in html
