"""CSV and Excel files of the assessment table and of the work-order lists behind its figures.

Every cell goes through :func:`rightscare.core.spreadsheets.safe_cell`, so text that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return at the
start) is written with a leading apostrophe. Confidential fields never appear: no address,
no summary, no person, no result text; the region of a case whose location is confidential
is written as "confidential". The views record each export in the audit log first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from rightscare.assessment.selectors import RATES, Assessment, Row
from rightscare.cases.models import WorkOrder
from rightscare.core.spreadsheets import safe_cell

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _percent(value: Any) -> float | str:
    return "" if value is None else round(float(value) * 100, 2)


def _hours(value: Any) -> float | str:
    return "" if value is None else round(float(value), 2)


# --- the assessment table ---------------------------------------------------------------------


def table_header() -> list[str]:
    """Column names of the table's export, in the reader's language."""
    header = [_("Unit"), _("Level"), _("Received"), _("Dispatched")]
    for _key, label, _against in RATES:
        header += [f"{label} (%)", f"{label}: " + _("numerator"), f"{label}: " + _("denominator")]
    header += [
        _("Satisfaction rate"),
        _("Overdue"),
        _("Overdue working days"),
        _("Mean handling time (working hours)"),
        _("90th percentile handling time (working hours)"),
        _("Unruled returns"),
        _("Composite score"),
        _("Rank at its level"),
    ]
    return header


def _table_row(row: Row) -> list[Any]:
    unit_name = row.unit.display_name if row.unit is not None else _("Total")
    level = row.unit.region.get_level_display() if row.unit is not None else ""
    cells: list[Any] = [unit_name, level, row.received, row.dispatched]
    for key, _label, _against in RATES:
        rate = row.rates.get(key)
        cells += [_percent(rate.value) if rate else "", rate.numerator if rate else 0, rate.denominator if rate else 0]
    cells += [
        str(row.satisfaction),
        row.overdue,
        row.overdue_days,
        _hours(row.handling_mean_hours),
        _hours(row.handling_p90_hours),
        row.unruled_returns,
        "" if row.composite is None else round(float(row.composite), 2),
        row.rank or "",
    ]
    return cells


def table_rows(table: Assessment) -> Iterator[list[Any]]:
    """The header, one row per unit, then the total."""
    yield table_header()
    for row in table.rows:
        yield _table_row(row)
    yield _table_row(table.total)


# --- work-order lists ---------------------------------------------------------------------------


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def work_order_header() -> list[str]:
    """The column titles of a work-order export, in the order of :func:`work_order_rows`."""
    return [
        _("Case number"),
        _("Registered"),
        _("Category"),
        _("Urgency"),
        _("Case status"),
        _("Region"),
        _("Unit"),
        _("Sent by"),
        _("Role"),
        _("Work order status"),
        _("Sent"),
        _("Signed for"),
        _("First contact"),
        _("Completed"),
        _("Ruling on the return"),
    ]


def work_order_rows(orders: QuerySet[WorkOrder]) -> Iterator[list[Any]]:
    """The header and one row per work order (streamed from the database in chunks)."""
    yield work_order_header()
    for order in orders.iterator(chunk_size=2000):
        case = order.case
        yield [
            case.number,
            _local(case.created_at),
            case.category.display_name,
            case.get_urgency_display(),
            case.get_status_display(),
            _("Confidential") if case.location_confidential else case.region.display_name,
            order.unit.display_name,
            order.sent_by_unit.display_name,
            order.get_role_display(),
            order.get_status_display(),
            _local(order.created_at),
            _local(order.signed_at),
            _local(order.first_contact_at),
            _local(order.completed_at),
            order.get_return_ruling_display() if order.return_ruling else "",
        ]


# --- writers ---------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """A cell as written: control characters a spreadsheet cannot hold removed, then escaped.

    In this order, so that removing a control character can never uncover a formula.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        value = str(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return safe_cell(value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text, line by line, with a byte-order mark so that Excel reads the Chinese as UTF-8."""
    writer = csv.writer(_Echo())
    first = True
    for row in rows:
        line = writer.writerow([_clean(cell) for cell in row])
        yield ("\ufeff" + line) if first else line
        first = False


def xlsx_bytes(rows: Iterable[Sequence[Any]], *, title: str) -> bytes:
    """An Excel workbook of one sheet (written in openpyxl's streaming mode)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=ILLEGAL_CHARACTERS_RE.sub("", title)[:31] or "Sheet")
    for row in rows:
        sheet.append([_clean(cell) for cell in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
