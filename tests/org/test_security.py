"""Sign-in hardening, sessions, two-factor, security headers and the health check."""

import importlib
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rightscare.org.models import User
from tests.factories import PASSWORD


def test_production_hasher_is_argon2():
    import rightscare.settings as project_settings

    importlib.reload(project_settings)
    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_new_passwords_are_hashed_with_argon2(settings, personas):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = personas["dispatcher"]
    user.set_password("another-long-passphrase")
    assert user.password.startswith("argon2$")


def test_wrong_password_shows_clear_message(client, personas):
    response = client.post("/accounts/login/", {"username": "dispatcher", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "The username or password is wrong" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_after_repeated_failures(client, settings, personas):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "dispatcher", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="en")
    # Even the right password is refused while locked out.
    response = client.post("/accounts/login/", {"username": "dispatcher", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert b"Too many failed sign-in attempts" in response.content


def test_correct_password_signs_in(client, personas):
    response = client.post("/accounts/login/", {"username": "dispatcher", "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == personas["dispatcher"].pk


def test_idle_session_expires(client, settings, personas):
    client.force_login(personas["dispatcher"])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + timedelta(seconds=settings.SESSION_IDLE_SECONDS - 60), tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + timedelta(seconds=2 * settings.SESSION_IDLE_SECONDS), tick=False):
        response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_system_admin_without_device_must_set_up_two_factor(client, settings, personas):
    settings.REQUIRE_2FA = True
    TOTPDevice.objects.filter(user=personas["system_admin"]).delete()
    client.force_login(personas["system_admin"])
    response = client.get("/org/regions/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/"


def test_two_factor_not_forced_when_disabled(client, settings, personas):
    settings.REQUIRE_2FA = False
    TOTPDevice.objects.filter(user=personas["system_admin"]).delete()
    client.force_login(personas["system_admin"])
    assert client.get("/org/regions/").status_code == 200


def test_user_with_device_must_enter_code(client, personas):
    device = TOTPDevice.objects.get(user=personas["system_admin"])
    client.force_login(personas["system_admin"])
    response = client.get("/org/regions/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/verify/")
    bad = client.post("/accounts/two-factor/verify/", {"code": "000000", "next": "/org/regions/"})
    assert bad.status_code == 200
    assert client.get("/org/regions/").status_code == 302
    # django-otp throttles the next try for a moment after a failure.
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        good = client.post("/accounts/two-factor/verify/", {"code": f"{totp.token():06d}", "next": "/org/regions/"})
        assert good.status_code == 302
        assert good["Location"] == "/org/regions/"
        assert client.get("/org/regions/").status_code == 200


def test_two_factor_verify_refuses_offsite_next(client, personas):
    device = TOTPDevice.objects.get(user=personas["system_admin"])
    client.force_login(personas["system_admin"])
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    response = client.post("/accounts/two-factor/verify/", {"code": f"{totp.token():06d}", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_any_user_can_set_up_two_factor(client, personas):
    client.force_login(personas["volunteer"])
    client.get("/accounts/two-factor/")
    device = TOTPDevice.objects.get(user=personas["volunteer"], confirmed=False)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    response = client.post("/accounts/two-factor/", {"code": f"{totp.token():06d}"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_security_headers(client, personas):
    client.force_login(personas["dispatcher"])
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp


def test_pages_have_no_inline_script_or_style(client, personas):
    client.force_login(personas["dispatcher"])
    html = client.get("/").content.decode()
    assert "<script>" not in html and "<style" not in html and " style=" not in html and "hx-on" not in html


def test_https_settings_turn_on_secure_cookies_and_hsts(monkeypatch):
    import rightscare.settings as project_settings

    monkeypatch.setenv("RIGHTSCARE_HTTPS", "1")
    try:
        reloaded = importlib.reload(project_settings)
        assert reloaded.SESSION_COOKIE_SECURE and reloaded.CSRF_COOKIE_SECURE
        assert reloaded.SECURE_HSTS_SECONDS >= 31536000
    finally:
        monkeypatch.delenv("RIGHTSCARE_HTTPS")
        importlib.reload(project_settings)


def test_login_page_needs_csrf(personas):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "dispatcher", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok\n")


def test_healthz_503_when_database_fails(client, db):
    with mock.patch.object(connection, "cursor", side_effect=RuntimeError("down")):
        response = client.get("/healthz")
    assert (response.status_code, response.content) == (503, b"unavailable\n")


def test_inactive_user_cannot_sign_in(client, personas):
    User.objects.filter(pk=personas["dispatcher"].pk).update(is_active=False)
    client.post("/accounts/login/", {"username": "dispatcher", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("language,expected", [("zh-hans", "退出"), ("en", "Log out")])
def test_shell_speaks_the_chosen_language(client, personas, language, expected):
    client.force_login(personas["dispatcher"])
    client.cookies["rightscare_language"] = language
    assert expected in client.get("/").content.decode()
