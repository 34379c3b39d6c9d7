"""Generating keys, the key files of ``rightscare up``, and ``rightscare check``'s key findings."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rightscare import cli
from rightscare.audit.keys import parse_keys
from rightscare.core import crypto, keyfiles
from rightscare.core.checks import Finding, check_field_keys

VARIABLES = ("RIGHTSCARE_SECRET_KEY", "RIGHTSCARE_FIELD_KEY", "RIGHTSCARE_INDEX_KEY", "RIGHTSCARE_AUDIT_KEY")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _check_keys(spec: str, index: str) -> None:
    crypto.KeyRing.parse(spec, name="field")
    crypto.KeyRing.parse(index, name="index")


# --- generate-keys ---------------------------------------------------------------------------------


def test_generate_keys_prints_four_well_formed_keys():
    out = io.StringIO()
    call_command("generate_keys", stdout=out)
    values = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert list(values) == list(VARIABLES)
    assert len(values["RIGHTSCARE_SECRET_KEY"]) >= 50
    field, index = crypto.KeyRing.parse(values["RIGHTSCARE_FIELD_KEY"], name="f"), crypto.KeyRing.parse(values["RIGHTSCARE_INDEX_KEY"], name="i")
    assert field.keys[field.active] != index.keys[index.active]
    assert len(parse_keys(values["RIGHTSCARE_AUDIT_KEY"]).keys) == 1


def test_generate_one_field_key_with_an_id_for_a_rotation():
    out = io.StringIO()
    call_command("generate_keys", "--only", "field", "--key-id", "2027a", stdout=out)
    [line] = out.getvalue().splitlines()
    assert line.startswith("RIGHTSCARE_FIELD_KEY=2027a:")
    assert crypto.KeyRing.parse(line.split("=", 1)[1], name="f").active == "2027a"


def test_generate_keys_refuses_a_bad_key_id():
    with pytest.raises(CommandError, match="--key-id is letters and digits only"):
        call_command("generate_keys", "--key-id", "a:b", stdout=io.StringIO())


def test_generate_keys_writes_private_files_and_never_overwrites(tmp_path):
    out = io.StringIO()
    call_command("generate_keys", "--write", str(tmp_path / "keys"), stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert list(lines) == [f"{v}_FILE" for v in VARIABLES]
    for variable in VARIABLES:
        path = Path(lines[f"{variable}_FILE"])
        assert path.parent == (tmp_path / "keys").resolve()
        assert _mode(path) == 0o600
    _check_keys((tmp_path / "keys" / "field.key").read_text().strip(), (tmp_path / "keys" / "index.key").read_text().strip())
    before = (tmp_path / "keys" / "field.key").read_text()
    with pytest.raises(CommandError, match="refusing to overwrite"):
        call_command("generate_keys", "--write", str(tmp_path / "keys"), "--only", "field", stdout=io.StringIO())
    assert (tmp_path / "keys" / "field.key").read_text() == before


# --- rightscare up: key files in the data directory -----------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"{variable}_FILE", raising=False)
    monkeypatch.delenv("RIGHTSCARE_DATA_DIR_FILE", raising=False)
    monkeypatch.setenv("RIGHTSCARE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_up_creates_the_key_files_once_and_points_the_environment_at_them(clean_environment):
    cli._use_key_files()
    files = {variable: Path(os.environ[f"{variable}_FILE"]) for variable in VARIABLES}
    assert {v: p.name for v, p in files.items()} == {
        "RIGHTSCARE_SECRET_KEY": "secret_key",
        "RIGHTSCARE_FIELD_KEY": "field.key",
        "RIGHTSCARE_INDEX_KEY": "index.key",
        "RIGHTSCARE_AUDIT_KEY": "audit.key",
    }
    assert all(p.parent == clean_environment.resolve() and _mode(p) == 0o600 for p in files.values())
    _check_keys(files["RIGHTSCARE_FIELD_KEY"].read_text().strip(), files["RIGHTSCARE_INDEX_KEY"].read_text().strip())
    parse_keys(files["RIGHTSCARE_AUDIT_KEY"].read_text().strip())
    contents = {v: p.read_text() for v, p in files.items()}
    cli._use_key_files()  # a second start keeps the keys
    assert {v: p.read_text() for v, p in files.items()} == contents


def test_up_leaves_keys_set_in_the_environment_alone(clean_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSCARE_FIELD_KEY", keyfiles.new_ring_key("env"))
    monkeypatch.setenv("RIGHTSCARE_SECRET_KEY_FILE", str(tmp_path / "elsewhere"))
    cli._use_key_files()
    assert "RIGHTSCARE_FIELD_KEY_FILE" not in os.environ
    assert os.environ["RIGHTSCARE_SECRET_KEY_FILE"] == str(tmp_path / "elsewhere")
    assert not (clean_environment / "field.key").exists()
    assert not (clean_environment / "secret_key").exists()
    assert (clean_environment / "index.key").exists()


def test_up_adopts_the_older_demo_audit_key(clean_environment):
    clean_environment.mkdir(parents=True)
    key = keyfiles.new_audit_key()
    (clean_environment / "demo-audit-key").write_text(key + "\n")
    cli._use_key_files()
    assert (clean_environment / "audit.key").read_text().strip() == key


def test_data_dir_is_resolved_like_the_settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert keyfiles.data_dir({}) == (tmp_path / "var").resolve()
    assert keyfiles.data_dir({"RIGHTSCARE_DATA_DIR": "data"}) == (tmp_path / "data").resolve()
    (tmp_path / "where").write_text(str(tmp_path / "named") + "\n")
    assert keyfiles.data_dir({"RIGHTSCARE_DATA_DIR_FILE": str(tmp_path / "where"), "RIGHTSCARE_DATA_DIR": "x"}) == (tmp_path / "named").resolve()


# --- rightscare check --------------------------------------------------------------------------------------


@pytest.fixture
def key_settings(settings, monkeypatch):
    for name in ("RIGHTSCARE_FIELD_KEY", "RIGHTSCARE_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    yield settings
    crypto.reset_keys()


def test_configured_keys_are_ok(key_settings):
    key_settings.FIELD_KEY_SPEC = f"{keyfiles.new_ring_key('b')},{keyfiles.new_ring_key('a')}"
    key_settings.INDEX_KEY_SPEC = keyfiles.new_ring_key("i")
    assert check_field_keys() == [
        Finding(
            "ok",
            "RIGHTSCARE_FIELD_KEY set, active key b; 1 older key(s) still accepted until `rightscare rotate-field-key` has run and they are removed",
        ),
        Finding("ok", "RIGHTSCARE_INDEX_KEY set, active key i"),
    ]


def test_missing_or_malformed_keys_are_errors(key_settings):
    key_settings.FIELD_KEY_SPEC = ""
    key_settings.INDEX_KEY_SPEC = "i:dG9vLXNob3J0"
    assert check_field_keys() == [
        Finding("error", "RIGHTSCARE_FIELD_KEY is not set: generate one with `rightscare generate-keys` (see docs/operations.md, 'Keys')"),
        Finding("error", "RIGHTSCARE_INDEX_KEY: key i must be 32 bytes, not 9: generate one with `rightscare generate-keys` (see docs/operations.md, 'Keys')"),
    ]


def test_the_same_key_for_fields_and_indexes_is_an_error(key_settings):
    shared = keyfiles.new_ring_key("a")
    key_settings.FIELD_KEY_SPEC = shared
    key_settings.INDEX_KEY_SPEC = f"{keyfiles.new_ring_key('b')},{'c' + shared[1:]}"
    assert check_field_keys()[-1] == Finding("error", "RIGHTSCARE_FIELD_KEY and RIGHTSCARE_INDEX_KEY contain the same key: each must be its own random key")


def test_an_unreadable_key_file_is_an_error(key_settings, monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSCARE_FIELD_KEY_FILE", str(tmp_path / "missing.key"))
    assert check_field_keys()[0] == Finding("error", "RIGHTSCARE_FIELD_KEY_FILE cannot be read: No such file or directory")


def test_check_command_fails_on_a_missing_key(db, key_settings):
    key_settings.FIELD_KEY_SPEC = ""
    out = io.StringIO()
    with pytest.raises(CommandError, match="the configuration has errors"):
        call_command("rightscare_check", stdout=out, stderr=io.StringIO())
    assert "[error] RIGHTSCARE_FIELD_KEY is not set" in out.getvalue()
    assert "[ok] RIGHTSCARE_INDEX_KEY set" in out.getvalue()


def test_outside_the_tests_missing_keys_make_check_exit_non_zero(tmp_path):
    """A real ``rightscare check`` process, without the keys the test settings generate."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RIGHTSCARE_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    environment["RIGHTSCARE_DATA_DIR"] = str(tmp_path)
    environment["RIGHTSCARE_SECRET_KEY"] = keyfiles.new_secret_key()
    result = subprocess.run([sys.executable, "-m", "rightscare.cli", "check"], env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[error] RIGHTSCARE_FIELD_KEY is not set" in result.stdout
    assert "[error] RIGHTSCARE_INDEX_KEY is not set" in result.stdout
    environment["RIGHTSCARE_FIELD_KEY"] = keyfiles.new_ring_key("f1")
    environment["RIGHTSCARE_INDEX_KEY"] = keyfiles.new_ring_key("i1")
    result = subprocess.run([sys.executable, "-m", "rightscare.cli", "check"], env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert "[ok] RIGHTSCARE_FIELD_KEY set, active key f1" in result.stdout, result.stdout + result.stderr
    assert "[ok] RIGHTSCARE_INDEX_KEY set, active key i1" in result.stdout
