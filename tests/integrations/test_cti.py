"""The hotline (CTI) callback against committed test vectors.

The vectors are the bodies in ``tests/integrations/data/`` (no trailing newline), the secret
``rightscare-cti-test-secret`` and HMACs made once with OpenSSL 3.0.19 (not by the code under test)::

    $ { printf '1796088600.'; cat tests/integrations/data/cti_ringing.json; } \\
        | openssl dgst -sha256 -hmac 'rightscare-cti-test-secret'
    SHA2-256(stdin)= bcde018f586a79426fb1ae07937d33dcc6d79ba285d2fe40fd812d6717a8d29d

    $ { printf '1796088845.'; cat tests/integrations/data/cti_ended.json; } \\
        | openssl dgst -sha256 -hmac 'rightscare-cti-test-secret'
    SHA2-256(stdin)= b91596c452164c2a608d5911b896a85697f31a9c7b30e904d680adb1822c99dc

1796088600 is 2026-12-01T01:30:00Z (09:30 in Shanghai, the ``at`` of the ringing event).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from rightscare.integrations import signing
from rightscare.integrations.models import CallRecord, CallState, CtiEvent
from rightscare.integrations.services import map_extension

DATA = Path(__file__).parent / "data"
RINGING = (DATA / "cti_ringing.json").read_bytes()
ENDED = (DATA / "cti_ended.json").read_bytes()
RINGING_TS, RINGING_SIGNATURE = "1796088600", "bcde018f586a79426fb1ae07937d33dcc6d79ba285d2fe40fd812d6717a8d29d"
ENDED_TS, ENDED_SIGNATURE = "1796088845", "b91596c452164c2a608d5911b896a85697f31a9c7b30e904d680adb1822c99dc"
RANG_AT = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
URL = "/channels/cti/events"


def post(client, body: bytes, timestamp: str, signature: str):
    return client.post(
        URL,
        body,
        content_type="application/json",
        headers={"X-RightsCare-Timestamp": timestamp, "X-RightsCare-Signature": signature},
    )


@pytest.fixture
def extension(personas):
    return map_extension(by=personas["system_admin"], extension="8001", user=personas["operator"])


def test_the_committed_vectors_match_openssl():
    assert signing.sign(secret="rightscare-cti-test-secret", timestamp=RINGING_TS, body=RINGING) == RINGING_SIGNATURE
    assert signing.sign(secret="rightscare-cti-test-secret", timestamp=ENDED_TS, body=ENDED) == ENDED_SIGNATURE
    assert not RINGING.endswith(b"\n")


def test_a_signed_ringing_event_creates_the_call_for_the_extensions_operator(client, personas, cti_secret, extension):
    with time_machine.travel(RANG_AT + timedelta(seconds=2), tick=False):
        response = post(client, RINGING, RINGING_TS, f"sha256={RINGING_SIGNATURE}")
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "call_id": "call-20261201-0001", "state": "ringing"}
    call = CallRecord.objects.get()
    assert (call.call_id, call.extension, call.operator, call.caller_phone, call.state) == (
        "call-20261201-0001",
        "8001",
        personas["operator"],
        "+8613800138021",
        CallState.RINGING,
    )
    assert (call.ringing_at, call.answered_at, call.ended_at, call.duration) == (RANG_AT, None, None, None)
    assert list(CtiEvent.objects.values_list("event_id", "signature", "kind")) == [("evt-20261201-0001", RINGING_SIGNATURE, "ringing")]


def test_the_ended_event_records_times_duration_and_recording(client, personas, cti_secret, extension):
    with time_machine.travel(RANG_AT, tick=False):
        assert post(client, RINGING, RINGING_TS, RINGING_SIGNATURE).status_code == 200
    with time_machine.travel(RANG_AT + timedelta(seconds=250), tick=False):
        response = post(client, ENDED, ENDED_TS, ENDED_SIGNATURE)
    assert response.json()["state"] == "ended"
    call = CallRecord.objects.get()
    assert (call.state, call.ended_at, call.recording_url) == (
        CallState.ENDED,
        RANG_AT + timedelta(seconds=245),
        "https://recordings.example.org/call-20261201-0001.mp3",
    )
    # Never answered: no conversation, no duration.
    assert call.duration is None
    assert call.operator == personas["operator"]


def test_a_replayed_request_is_ignored(client, cti_secret, extension):
    with time_machine.travel(RANG_AT, tick=False):
        assert post(client, RINGING, RINGING_TS, RINGING_SIGNATURE).json()["status"] == "accepted"
        before = list(CallRecord.objects.values_list("pk", "state", "updated_at"))
        again = post(client, RINGING, RINGING_TS, RINGING_SIGNATURE)
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert list(CallRecord.objects.values_list("pk", "state", "updated_at")) == before
    assert CtiEvent.objects.count() == 1


def test_the_same_event_id_resigned_later_is_still_a_replay(client, cti_secret, extension):
    with time_machine.travel(RANG_AT, tick=False):
        post(client, RINGING, RINGING_TS, RINGING_SIGNATURE)
    later = str(int(RINGING_TS) + 60)
    with time_machine.travel(RANG_AT + timedelta(seconds=60), tick=False):
        response = post(client, RINGING, later, signing.sign(secret=cti_secret, timestamp=later, body=RINGING))
    assert response.json() == {"status": "duplicate"}
    assert CtiEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (RINGING_TS, RINGING_SIGNATURE[:-1] + "0"),  # one digit changed
        (RINGING_TS, ""),  # unsigned
        (RINGING_TS, "sha256=not-hex"),
        (str(int(RINGING_TS) + 1), RINGING_SIGNATURE),  # the timestamp is signed too
        ("", RINGING_SIGNATURE),
    ],
)
def test_a_bad_signature_is_refused_and_nothing_stored(client, cti_secret, extension, timestamp, signature):
    with time_machine.travel(RANG_AT, tick=False):
        response = post(client, RINGING, timestamp, signature)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert (CallRecord.objects.count(), CtiEvent.objects.count()) == (0, 0)


def test_a_tampered_body_is_refused(client, cti_secret, extension):
    tampered = RINGING.replace(b"13800138021", b"13800138022")
    with time_machine.travel(RANG_AT, tick=False):
        assert post(client, tampered, RINGING_TS, RINGING_SIGNATURE).status_code == 403
    assert CallRecord.objects.count() == 0


def test_without_a_configured_secret_everything_is_refused(client, settings, extension):
    settings.CTI_SECRET = ""
    with time_machine.travel(RANG_AT, tick=False):
        assert post(client, RINGING, RINGING_TS, RINGING_SIGNATURE).status_code == 403
    assert CallRecord.objects.count() == 0


@pytest.mark.parametrize("offset", [timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=1)])
def test_a_timestamp_outside_the_window_is_refused(client, cti_secret, extension, offset):
    with time_machine.travel(RANG_AT + offset, tick=False):
        response = post(client, RINGING, RINGING_TS, RINGING_SIGNATURE)
    assert response.status_code == 403
    assert response.json()["detail"] == "The timestamp is outside the accepted window."
    assert (CallRecord.objects.count(), CtiEvent.objects.count()) == (0, 0)


def test_the_window_edge_is_accepted(client, cti_secret, extension):
    with time_machine.travel(RANG_AT + timedelta(seconds=300), tick=False):
        assert post(client, RINGING, RINGING_TS, RINGING_SIGNATURE).status_code == 200


def _signed_post(client, secret: str, event: dict, at: datetime):
    body = json.dumps(event).encode()
    timestamp = str(int(at.timestamp()))
    with time_machine.travel(at, tick=False):
        return post(client, body, timestamp, signing.sign(secret=secret, timestamp=timestamp, body=body))


def test_a_signed_but_invalid_event_is_422_and_nothing_stored(client, cti_secret, extension):
    response = _signed_post(client, cti_secret, {"event_id": "e1", "event": "hung-up", "call_id": "c1", "at": "2026-12-01T09:30:00"}, RANG_AT)
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"event", "at"}
    assert (CallRecord.objects.count(), CtiEvent.objects.count()) == (0, 0)


def test_a_late_answered_event_fills_its_time_but_does_not_reopen_the_call(client, personas, cti_secret, extension):
    base = {"call_id": "c-9", "caller": "13800138021", "extension": "8001"}
    _signed_post(client, cti_secret, {**base, "event_id": "e-1", "event": "ringing", "at": "2026-12-01T09:30:00+08:00"}, RANG_AT)
    _signed_post(client, cti_secret, {**base, "event_id": "e-3", "event": "ended", "at": "2026-12-01T09:40:00+08:00"}, RANG_AT + timedelta(minutes=10))
    _signed_post(client, cti_secret, {**base, "event_id": "e-2", "event": "answered", "at": "2026-12-01T09:30:20+08:00"}, RANG_AT + timedelta(minutes=10))
    call = CallRecord.objects.get()
    assert call.state == CallState.ENDED
    assert call.duration == timedelta(minutes=9, seconds=40)


def test_a_withheld_number_is_kept_empty(client, cti_secret, extension):
    _signed_post(
        client,
        cti_secret,
        {"event_id": "e-1", "event": "ringing", "call_id": "c-1", "caller": "anonymous", "extension": "8001", "at": "2026-12-01T09:30:00+08:00"},
        RANG_AT,
    )
    assert CallRecord.objects.get().caller_phone == ""


def test_an_unmapped_extension_reaches_nobody(client, cti_secret, extension):
    _signed_post(
        client,
        cti_secret,
        {"event_id": "e-1", "event": "ringing", "call_id": "c-1", "caller": "13800138021", "extension": "9999", "at": "2026-12-01T09:30:00+08:00"},
        RANG_AT,
    )
    assert CallRecord.objects.get().operator is None


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405
