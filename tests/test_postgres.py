"""The PostgreSQL database the tests run on has a UTF-8 character classification (LC_CTYPE).

Under a C ctype PostgreSQL treats every non-ASCII character as neither a letter nor a
digit: ``lower('ÄÖ')`` stays ``'ÄÖ'``, ``ILIKE`` is case-sensitive beyond ASCII, and
``pg_trgm`` extracts no trigrams from Chinese text, so its indexes find nothing. A
database created ``--locale=C.UTF-8`` (or from a template created ``WITH LC_CTYPE
'C.UTF-8'``, see ``.ci/run`` and ``RIGHTSCARE_DB_TEST_TEMPLATE``) behaves. These tests
fail on a C-locale database, which is the point.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

#: C.UTF-8, zh_CN.UTF-8, en_US.utf8 …
UTF8_LOCALE = re.compile(r"\.utf-?8$", re.IGNORECASE)


def scalar(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    assert row is not None
    return row[0]


def test_database_has_utf8_encoding_and_ctype() -> None:
    encoding = scalar("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")
    ctype = scalar("SELECT datctype FROM pg_database WHERE datname = current_database()")

    assert encoding == "UTF8" and UTF8_LOCALE.search(ctype), (
        f"{connection.settings_dict['NAME']} has encoding {encoding} and LC_CTYPE {ctype!r}: create it (or its template, "
        "RIGHTSCARE_DB_TEST_TEMPLATE) with ENCODING 'UTF8' LC_CTYPE 'C.UTF-8' TEMPLATE template0"
    )


def test_case_mapping_covers_non_ascii_letters() -> None:
    assert scalar("SELECT lower(%s) = %s", ["ÄÖ", "äö"]) is True
    assert scalar("SELECT upper(%s)", ["é"]) == "É"


def test_ilike_ignores_case_of_non_ascii_letters_in_chinese_text() -> None:
    assert scalar("SELECT %s ILIKE %s", ["深圳市妇联 ÉCOLE 维权", "%妇联 école%"]) is True
    assert scalar("SELECT %s ILIKE %s", ["深圳市妇联", "%坪山%"]) is False


def test_trigrams_are_extracted_from_chinese_text() -> None:
    # pg_trgm is a trusted extension (PostgreSQL 13+); the test's transaction is rolled back.
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    trigrams = scalar("SELECT show_trgm(%s)", ["妇女联合会"])
    similarity = scalar("SELECT similarity(%s, %s)", ["深圳市妇女联合会", "深圳市坪山区妇女联合会"])

    assert len(trigrams) > 0
    assert similarity > 0.3
