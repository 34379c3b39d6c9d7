"""A planted phone number and ID number appear nowhere at rest, nor in the logs, after a realistic flow.

The search is proved first: a control value written in plain text to an ordinary
column (a user's full name) must be found by exactly the same searches, in the
SQLite file *and* its ``-wal`` (or in ``pg_dump`` on PostgreSQL), in the SQL dump
and in the captured log; otherwise the test fails, because a search that cannot
find anything proves nothing. The database is the committed, file-backed test
database (``transaction=True``), never ``:memory:``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import shutil
import subprocess
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from rightscare.audit.models import AuditEntry
from rightscare.core.identity import build_id_number, build_unchecked_id_number, normalise_phone
from rightscare.org import services
from rightscare.org.models import User
from tests.conftest import log_in
from tests.factories import build_org_tree, build_personas

pytestmark = pytest.mark.django_db(transaction=True)


def _planted_phone(rng: random.Random) -> str:
    while True:
        national = f"139{rng.randrange(10**8):08d}"
        try:
            normalise_phone(national)
        except ValidationError:  # draw again
            continue
        return national


def _planted_id_numbers(rng: random.Random) -> tuple[str, str]:
    born = date(1990, 1, 1) + timedelta(days=rng.randrange(365 * 15))
    valid = build_id_number(birth_place="440303", birth_date=born, sequence=rng.randrange(1000))
    # Longhua (440309) did not exist before 2016: saved only after confirming the warning.
    warned = build_unchecked_id_number(birth_place="440309", birth_date=born, sequence=rng.randrange(1000))
    return valid, warned


def _phone_forms(national: str) -> list[str]:
    """Every way the number is typed in the flow, plus E.164, digits only and the bare national number."""
    a, b, c = national[:3], national[3:7], national[7:]
    return [
        national,
        f"+86{national}",
        f"86{national}",
        f"{a} {b} {c}",
        f"+86 {a}-{b}-{c}",
        f"+86 {a} {b} {c}",
        f"{a}-{b}-{c}",
    ]


def _id_forms(number: str) -> list[str]:
    forms = [number, number.lower(), f"{number[:6]} {number[6:14]} {number[14:]}"]
    return list(dict.fromkeys(forms))


def _found(needles: Iterable[str], haystacks: dict[str, bytes]) -> list[tuple[str, str]]:
    return [(needle, where) for needle in needles for where, data in haystacks.items() if needle.encode() in data]


def _rows(models: Iterable[Any]) -> bytes:
    dumped = {model._meta.label: list(model._base_manager.values()) for model in models}
    return json.dumps(dumped, default=str, ensure_ascii=False).encode()


def _sqlite_files() -> tuple[Path, Path]:
    database = Path(connection.settings_dict["NAME"])
    return database, Path(f"{database}-wal")


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def _pg_dump() -> bytes:
    pg_dump = shutil.which("pg_dump")
    assert pg_dump is not None, "pg_dump is needed to search the PostgreSQL database"
    conf = connection.settings_dict
    command = [pg_dump, "--no-owner", "-h", conf.get("HOST") or "127.0.0.1", "-U", conf.get("USER") or "postgres", conf["NAME"]]
    if conf.get("PORT"):
        command[1:1] = ["-p", str(conf["PORT"])]
    environment = {**os.environ, "PGPASSWORD": conf.get("PASSWORD") or ""}
    return subprocess.run(command, env=environment, capture_output=True, check=True, timeout=120).stdout


def _outbox_and_task_models() -> list[Any]:
    """Rows that carry data out of a transaction: messages to send, queued task arguments."""
    return [model for model in apps.get_models() if model._meta.app_label in {"notifications", "django_tasks_db"}]


def test_planted_phone_and_id_number_are_nowhere(client, caplog, capsys):
    rng = random.Random(secrets.randbits(64))
    national = _planted_phone(rng)
    id_number, warned_id_number = _planted_id_numbers(rng)
    a, b, c = national[:3], national[3:7], national[7:]
    control = f"CONTROL-{secrets.token_hex(8)}"

    # Everything at DEBUG, as RIGHTSCARE_LOG_LEVEL=DEBUG does, plus the SQL log with its parameters
    # (Django keeps its own loggers at INFO otherwise; django.template at DEBUG would dump whole
    # template contexts, which hold what the page shows, and no setting of ours turns it on).
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    # Log every SQL statement with its parameters too: nothing plain may reach the database driver.
    connection.force_debug_cursor = True
    try:
        org = build_org_tree()
        personas = build_personas(org)
        admin, handler = personas["system_admin"], personas["handler"]

        # The control: plain text in an ordinary column, committed through the same kind of service call.
        services.update_user(by=admin, user=handler, full_name=control, email="", is_active=True)
        if connection.vendor == "sqlite":
            wal_after_control = _read(_sqlite_files()[1])
            assert control.encode() in wal_after_control, "the control value was not found in the -wal: the search is broken"

        # 1. An administrator sets the handler's phone and ID number on the web page.
        log_in(client, admin)
        response = client.post(
            f"/org/users/{handler.pk}/edit/",
            {"full_name": control, "email": "", "is_active": "on", "phone": f"{a} {b} {c}", "id_number": id_number.lower()},
        )
        assert response.status_code == 302, response.content[:500]

        # 2. She creates a user whose ID number needs the warning confirmed (first refused, then confirmed).
        new_user = {
            "username": "planted.user",
            "full_name": "新同事",
            "email": "",
            "password": "a-long-enough-passphrase-2026",
            "unit": str(org.units["pingshan_street"].pk),
            "role": "handler",
            "phone": f"+86 {a}-{b}-{c}",
            "id_number": warned_id_number,
            "idempotency_key": "planted-create",
        }
        assert client.post("/org/users/new/", new_user).status_code == 422
        assert client.post("/org/users/new/", {**new_user, "confirm_warnings": "on"}).status_code == 302

        # 3. Through the API she sets her own phone and ID number (twice: idempotent).
        token = services.create_api_token(by=admin, name="planted")[1]
        for _attempt in range(2):
            patched = client.patch(
                "/api/v1/me",
                {"phone": f"+86{national}", "id_number": f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}"},
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert patched.status_code == 200, patched.content
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["phone"] == f"+86 {a}****{c}"

        # 4. She looks the handler up by phone, opens the page (an audited read) and shows the ID number (another).
        found = client.post("/org/users/", {"phone": f"{a}-{b}-{c}"})
        assert [u.pk for u in found.context["page"].object_list] == sorted(
            [handler.pk, admin.pk, User.objects.get(username="planted.user").pk], key=lambda pk: User.objects.get(pk=pk).username
        )
        assert f"+86 {a} {b} {c}" in client.get(f"/org/users/{handler.pk}/").content.decode()
        assert id_number in client.post(f"/org/users/{handler.pk}/id-number/", HTTP_HX_REQUEST="true").content.decode()
        assert AuditEntry.objects.filter(action="read", object_id=str(handler.pk)).count() == 2

        # 5. The audit chain is sealed, as the worker would do.
        from rightscare.audit import services as audit_services

        if hasattr(audit_services, "seal"):
            audit_services.seal()
    finally:
        connection.force_debug_cursor = False

    needles = [*_phone_forms(national), *_id_forms(id_number), *_id_forms(warned_id_number)]
    # Sanity: the values really are stored (encrypted) and readable.
    stored = User.objects.get(pk=handler.pk)
    assert (stored.phone, stored.id_number, stored.full_name) == (f"+86{national}", id_number, control)

    haystacks: dict[str, bytes] = {
        "audit entries": _rows([AuditEntry]),
        "outbox and task rows": _rows(_outbox_and_task_models()),
    }
    anchor = Path(str(getattr(settings, "AUDIT_ANCHOR", "")))
    if anchor.is_file():
        haystacks["audit anchor file"] = anchor.read_bytes()
    if connection.vendor == "sqlite":
        database, wal = _sqlite_files()
        wal_before_checkpoint = _read(wal)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(FULL)")
        haystacks |= {
            "database file": _read(database),
            "-wal before the checkpoint": wal_before_checkpoint,
            "-wal after the checkpoint": _read(wal),
            "-shm": _read(Path(f"{database}-shm")),
            "SQL dump": "\n".join(connection.connection.iterdump()).encode(),
        }
        assert control.encode() in haystacks["database file"], "the control value was not found in the database file: the search is broken"
        assert control.encode() in haystacks["SQL dump"], "the control value was not found in the dump: the search is broken"
    else:
        haystacks["pg_dump"] = _pg_dump()
        assert control.encode() in haystacks["pg_dump"], "the control value was not found in pg_dump's output: the search is broken"
    captured = capsys.readouterr()
    haystacks["log"] = (caplog.text + "\n".join(r.getMessage() for r in caplog.records) + captured.out + captured.err).encode()
    sql_log = "\n".join(r.getMessage() for r in caplog.records if r.name == "django.db.backends")
    assert control in sql_log, "the control value was not found in the SQL log: the log search is broken"
    assert control.encode() in haystacks["audit entries"], "the control value was not found in the audit entries: the search is broken"

    assert _found(needles, haystacks) == []
