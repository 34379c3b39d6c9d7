"""Every page and every API operation, for every persona: the exact status, written out.

The routes are enumerated from the URL resolver and from the OpenAPI documents the
project serves, so a new page or operation without a row here fails
``test_every_route_has_a_row``. The expected statuses are literal: they are never
computed by calling ``org.access`` or the views' own checks. A denied request
must change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from rightscare.api import api
from rightscare.org import services
from rightscare.org.models import ApiToken, Membership, Region, Unit, User
from tests.conftest import log_in

PERSONAS = (
    "anon",
    "operator",
    "operator_twin",
    "dispatcher",
    "dispatcher_twin",
    "handler",
    "handler_twin",
    "department_handler",
    "department_handler_twin",
    "community_worker",
    "community_worker_twin",
    "volunteer",
    "volunteer_twin",
    "return_visit",
    "supervisor",
    "supervisor_twin",
    "unit_admin",
    "unit_admin_twin",
    "system_admin",
    "auditor",
)

# Column order is PERSONAS. Targets: region = Pingshan district, unit = Pingshan street
# federation, user = the Pingshan street handler, token = the system administrator's.
#                                        anon op  op2 dis dis2 h  h2  dh  dh2 cw  cw2 vol vol2 rv sup sup2 ua ua2 sa  aud
# fmt: off
PAGES: dict[tuple[str, str], str] = {
    ("GET", "home"):                     "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "login"):                    "200 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("POST", "logout"):                  "302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("GET", "two_factor_setup"):         "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "two_factor_verify"):        "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "token_list"):               "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "token_revoke"):            "302 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 302 404",
    ("GET", "region_list"):              "302 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "region_create"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "region_import"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "region_export"):            "302 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "region_detail"):            "302 200 404 200 404 200 404 200 404 200 404 403 403 200 200 404 200 404 200 200",
    ("GET", "region_edit"):              "302 403 404 403 404 403 404 403 404 403 404 404 404 403 403 404 403 404 200 403",
    ("GET", "unit_list"):                "302 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "unit_create"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 200 403",
    ("GET", "unit_detail"):              "302 200 404 200 404 200 404 404 404 404 404 403 403 200 200 404 200 404 200 200",
    ("GET", "unit_edit"):                "302 403 404 403 404 403 404 404 404 404 404 404 404 403 403 404 200 404 200 403",
    ("GET", "user_list"):                "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 200 403",
    ("GET", "user_create"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 200 403",
    ("GET", "user_detail"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 404 200 403",
    ("POST", "user_edit"):               "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("POST", "user_set_password"):       "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("POST", "membership_grant"):        "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("POST", "membership_revoke"):       "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("GET", "healthz"):                  "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "set_language"):            "302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("GET", "javascript_catalog"):       "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "django-admin/"):            "302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("GET", "api/v1/openapi.json"):      "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "api/v1/docs"):              "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
}

#                                                    anon op  op2 dis dis2 h  h2  dh  dh2 cw  cw2 vol vol2 rv sup sup2 ua ua2 sa  aud
OPERATIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/me"):                           "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/api/v1/regions"):                      "401 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "/api/v1/regions/{region_id}"):          "401 200 404 200 404 200 404 200 404 200 404 403 403 200 200 404 200 404 200 200",
    ("GET", "/api/v1/units"):                        "401 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "/api/v1/units/{unit_id}"):              "401 200 404 200 404 200 404 404 404 404 404 403 403 200 200 404 200 404 200 200",
    ("GET", "/api/v1/tokens"):                       "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "/api/v1/tokens"):                      "401 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201",
    ("POST", "/api/v1/tokens/{token_id}/revoke"):    "401 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 200 404",
}
# fmt: on

#: Django's admin is one row: its own permission system guards what is behind it.
INCLUDED_AS_ONE_ROW = ("django-admin/",)
DENIED = {401, 403, 404, 405}


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route in INCLUDED_AS_ONE_ROW:
                found.append((route, entry))  # type: ignore[arg-type]
            elif route.startswith("api/v1/"):
                # The API is enumerated from its OpenAPI document; only its own docs pages are URL rows.
                found.extend((route + str(sub.pattern), sub) for sub in entry.url_patterns if str(sub.pattern) in ("openapi.json", "docs"))
            else:
                found.extend(_patterns(entry, route))
        else:
            found.append((route, entry))
    return found


def _route_keys() -> set[str]:
    keys = set()
    for route, entry in _patterns(get_resolver()):
        if isinstance(entry, URLPattern) and entry.name and not route.startswith("api/"):
            keys.add(entry.name)
        else:
            keys.add(route)
    return keys


def _operation_keys() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods}


def test_every_route_has_a_row() -> None:
    assert _route_keys() == {name for _method, name in PAGES}


def test_every_api_operation_has_a_row() -> None:
    assert _operation_keys() == set(OPERATIONS)


def test_rows_have_a_status_for_every_persona() -> None:
    for table in (PAGES, OPERATIONS):
        for key, row in table.items():
            assert len(row.split()) == len(PERSONAS), key


def _fingerprint(targets: dict[str, Any]) -> tuple[Any, ...]:
    handler = User.objects.get(pk=targets["user"].pk)
    return (
        Region.objects.count(),
        Unit.objects.count(),
        User.objects.count(),
        sorted(Membership.objects.values_list("pk", "role", "revoked_at")),
        sorted(ApiToken.objects.values_list("pk", "revoked_at")),
        (handler.full_name, handler.email, handler.is_active, handler.password),
    )


@pytest.fixture
def targets(org, personas) -> dict[str, Any]:
    token, _plain = services.create_api_token(by=personas["system_admin"], name="target")
    return {
        "region": org.regions["pingshan"],
        "unit": org.units["pingshan_street"],
        "user": personas["handler"],
        "membership": personas["handler"].memberships.get(),
        "token": token,
    }


def _page_url(name: str, targets: dict[str, Any]) -> str:
    from django.urls import reverse

    arguments = {
        "token_revoke": targets["token"].pk,
        "region_detail": targets["region"].pk,
        "region_edit": targets["region"].pk,
        "unit_detail": targets["unit"].pk,
        "unit_edit": targets["unit"].pk,
        "user_detail": targets["user"].pk,
        "user_edit": targets["user"].pk,
        "user_set_password": targets["user"].pk,
        "membership_grant": targets["user"].pk,
        "membership_revoke": targets["membership"].pk,
    }
    if "/" in name:
        return "/" + name
    if name in arguments:
        return reverse(name, args=[arguments[name]])
    return reverse(name)


def _page_data(name: str, targets: dict[str, Any]) -> dict[str, str]:
    return {
        "user_edit": {"full_name": "新名字", "email": "", "is_active": "on"},
        "user_set_password": {"password": "a-new-long-passphrase-2026"},
        "membership_grant": {"unit": str(targets["unit"].pk), "role": "dispatcher"},
        "set_language": {"language": "en", "next": "/"},
    }.get(name, {})


@pytest.mark.parametrize(("method", "name"), list(PAGES))
def test_page_status_for_every_persona(client, personas, targets, method: str, name: str) -> None:
    expected = dict(zip(PERSONAS, (int(s) for s in PAGES[(method, name)].split()), strict=True))
    url = _page_url(name, targets)
    actual = {}
    for persona in PERSONAS:
        with transaction.atomic():
            client.logout()
            if persona != "anon":
                log_in(client, personas[persona])
            before = _fingerprint(targets)
            response = client.get(url) if method == "GET" else client.post(url, _page_data(name, targets))
            actual[persona] = response.status_code
            if response.status_code in DENIED:
                assert _fingerprint(targets) == before, f"{persona} was denied {name} but something changed"
            transaction.set_rollback(True)
    assert actual == expected


def _operation_url(path: str, targets: dict[str, Any]) -> str:
    return path.replace("{region_id}", str(targets["region"].pk)).replace("{unit_id}", str(targets["unit"].pk)).replace("{token_id}", str(targets["token"].pk))


@pytest.mark.parametrize(("method", "path"), list(OPERATIONS))
def test_operation_status_for_every_persona(client, personas, targets, method: str, path: str) -> None:
    expected = dict(zip(PERSONAS, (int(s) for s in OPERATIONS[(method, path)].split()), strict=True))
    url = _operation_url(path, targets)
    tokens = {name: services.create_api_token(by=user, name="matrix")[1] for name, user in personas.items()}
    body = {"/api/v1/tokens": {"name": "from the matrix", "days": 30}}.get(path)
    actual = {}
    for persona in PERSONAS:
        with transaction.atomic():
            headers = {} if persona == "anon" else {"Authorization": f"Bearer {tokens[persona]}"}
            before = _fingerprint(targets)
            if method == "GET":
                response = client.get(url, headers=headers)
            else:
                response = client.post(url, body or {}, content_type="application/json", headers=headers)
            actual[persona] = response.status_code
            if response.status_code in DENIED:
                assert response["Content-Type"] == "application/problem+json"
                assert _fingerprint(targets) == before, f"{persona} was denied {path} but something changed"
            transaction.set_rollback(True)
    assert actual == expected
