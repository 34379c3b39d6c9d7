"""The product's PostgreSQL connections run without JIT compilation (``RIGHTSCARE_PG_JIT``, docs/configuration.md)."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_connections_have_jit_off() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
