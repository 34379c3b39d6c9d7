"""A test client for the API acting as one user, through a bearer token."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from rightscare.org import services


class ApiClient:
    """Calls ``/api/v1`` as ``user`` (``api.get("/cases")``, ``api.post("/cases", {...})``)."""

    def __init__(self, client: Client, user: Any) -> None:
        self.client = client
        self.user = user
        self.token = services.create_api_token(by=user, name="test")[1]

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path: str, query: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get("/api/v1" + path, query or {}, headers=self._headers(headers))

    def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.post("/api/v1" + path, json.dumps(body or {}), content_type="application/json", headers=self._headers(headers))


def error_fields(response: Any) -> set[str]:
    """The fields a 422 problem names."""
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}
