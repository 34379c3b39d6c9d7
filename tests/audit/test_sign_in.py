"""Sign-in, sign-out and failed sign-in are in the audit log with the address, never with a password."""

from __future__ import annotations

import json

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rightscare.audit.models import AuditEntry
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def only(action: str) -> AuditEntry:
    [entry] = AuditEntry.objects.filter(action=action)
    return entry


def test_sign_in_and_sign_out(client, personas):
    operator = personas["operator"]
    assert client.post("/accounts/login/", {"username": "operator", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3").status_code == 302
    assert client.post("/accounts/logout/", REMOTE_ADDR="10.1.2.4").status_code == 302

    login, logout = only("login"), only("logout")
    assert (login.actor_id, login.actor_label, login.event, login.object_type, login.object_id, login.ip_address) == (
        operator.pk,
        "operator (operator)",
        "auth.login",
        "org.user",
        str(operator.pk),
        "10.1.2.3",
    )
    assert (logout.actor_id, logout.event, logout.ip_address) == (operator.pk, "auth.logout", "10.1.2.4")


def test_failed_sign_in_names_the_account_tried_never_the_password(client, personas):
    client.post("/accounts/login/", {"username": "operator", "password": "guess-one"}, REMOTE_ADDR="10.9.9.9")
    client.post("/accounts/login/", {"username": "nobody", "password": "guess-two"}, REMOTE_ADDR="10.9.9.9")

    tried = list(AuditEntry.objects.filter(action="login_failed").order_by("id"))
    assert [(e.actor_id, e.event, e.object_type, e.object_id, e.object_label, e.ip_address) for e in tried] == [
        (None, "auth.login_failed", "org.user", str(personas["operator"].pk), "operator", "10.9.9.9"),
        (None, "auth.login_failed", "org.user", "", "nobody", "10.9.9.9"),
    ]
    everything = json.dumps([[e.changes, e.object_label, e.reason, e.actor_label] for e in AuditEntry.objects.all()])
    assert "guess-one" not in everything and "guess-two" not in everything


def test_signing_out_when_not_signed_in_records_nothing(client, db):
    client.post("/accounts/logout/")
    assert not AuditEntry.objects.filter(action="logout").exists()


def test_turning_on_two_factor_sign_in_is_recorded_without_the_secret(client, personas, org):
    volunteer = personas["volunteer"]
    client.force_login(volunteer)
    client.get("/accounts/two-factor/")
    device = TOTPDevice.objects.get(user=volunteer, confirmed=False)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    assert client.post("/accounts/two-factor/", {"code": f"{totp.token():06d}"}, REMOTE_ADDR="10.0.0.7").status_code == 302

    entry = only("update")
    assert (entry.actor_id, entry.unit_id, entry.event, entry.object_id, entry.changes, entry.ip_address) == (
        volunteer.pk,
        org.units["pingshan_community"].pk,
        "auth.two_factor_enabled",
        str(volunteer.pk),
        {"two_factor": "changed"},
        "10.0.0.7",
    )
    assert device.key not in json.dumps([e.changes for e in AuditEntry.objects.all()])
