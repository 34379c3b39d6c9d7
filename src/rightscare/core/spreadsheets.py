"""Cells for CSV and Excel exports that a spreadsheet never runs as a formula."""

from __future__ import annotations

from typing import Any

#: A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and Sheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` for an exported cell: text that a spreadsheet would read as a formula gets a leading ``'``.

    Numbers and empty values pass unchanged; only text can smuggle a formula
    (OWASP "CSV injection").
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
