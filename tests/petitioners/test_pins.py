"""PINs are stored as salted HMACs under the index key; older password hashes keep working and are rewritten."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password

from rightscare.core import crypto
from rightscare.core.keyfiles import new_ring_key
from rightscare.petitioners import codes, services
from rightscare.petitioners.models import TrackingCode

OLD_INDEX, NEW_INDEX = new_ring_key("pold"), new_ring_key("pnew")


@pytest.fixture
def index_keys(settings, monkeypatch):
    """Configure the index key ring through the settings (the environment's key removed)."""
    monkeypatch.delenv("RIGHTSCARE_INDEX_KEY", raising=False)
    monkeypatch.delenv("RIGHTSCARE_INDEX_KEY_FILE", raising=False)

    def use(spec: str) -> None:
        settings.INDEX_KEY_SPEC = spec
        crypto.reset_keys()

    use(OLD_INDEX)
    yield use
    crypto.reset_keys()


def test_the_stored_form_is_salted_and_keyed(index_keys):
    first, second = codes.hash_pin("246810"), codes.hash_pin("246810")
    assert first.startswith("pin1$") and "246810" not in first
    # A salt of its own: two equal PINs are not told apart by their stored forms.
    assert first != second
    scheme, salt, key_id, digest = first.split("$")
    assert (scheme, key_id, len(salt), len(digest)) == ("pin1", "pold", 32, 64)
    assert codes.pin_matches("246810", first) and codes.pin_matches("246810", second)
    assert not codes.pin_matches("246811", first)
    assert not codes.pin_matches("", first)
    assert not codes.pin_matches("246810", None)


def test_a_pin_under_a_key_no_longer_in_the_ring_never_matches(index_keys):
    stored = codes.hash_pin("135790")
    index_keys(NEW_INDEX)
    assert not codes.pin_matches("135790", stored)


def test_a_changed_digest_does_not_match(index_keys):
    stored = codes.hash_pin("135790")
    tampered = stored[:-1] + ("0" if stored[-1] != "0" else "1")
    assert not codes.pin_matches("135790", tampered)


def test_older_forms_match_and_are_rewritten_on_the_first_good_pin(index_keys, submit):
    result = submit()
    tracking = TrackingCode.objects.get(contact=result.contact)
    # As stored before the keyed digest: Django's password hasher (MD5 in the tests, Argon2 in production).
    TrackingCode.objects.filter(pk=tracking.pk).update(pin_hash=make_password(result.pin))
    tracking.refresh_from_db()
    assert codes.pin_needs_rewrite(tracking.pin_hash)
    assert services.check_pin(tracking, "000000" if result.pin != "000000" else "111111") is False
    assert not TrackingCode.objects.get(pk=tracking.pk).pin_hash.startswith("pin1$")
    assert services.check_pin(tracking, result.pin) is True
    rewritten = TrackingCode.objects.get(pk=tracking.pk).pin_hash
    assert rewritten.startswith("pin1$") and rewritten.split("$")[2] == "pold"
    # Rotated: the old key still reads; the first good PIN rewrites it under the new one.
    index_keys(f"{NEW_INDEX},{OLD_INDEX}")
    tracking.refresh_from_db()
    assert services.check_pin(tracking, result.pin) is True
    assert TrackingCode.objects.get(pk=tracking.pk).pin_hash.split("$")[2] == "pnew"
