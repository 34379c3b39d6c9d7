"""Exports of the assessment table and of the work-order lists: escaping, scope, confidentiality, audit."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.cases import services
from rightscare.cases.models import Case, Category
from tests.assessment.dataset import NOW, at, frozen
from tests.conftest import log_in
from tests.factories import make_unit

MARCH = "period=month&year=2026&month=3"

#: Unit names that a spreadsheet would run as formulas: every dangerous first character.
DANGEROUS_NAMES = {
    "=": '=HYPERLINK("http://evil.example","点我")',
    "+": "+1+1",
    "-": "-2+3",
    "@": "@SUM(A1:A9)",
    "tab": "\t=1+2",
    "cr": "\r=1+2",
}

CONFIDENTIAL_ADDRESS = "光明区保密地址 8 栋 808"


@pytest.fixture
def dangerous_units(dataset, org, personas):
    """One street-level unit per dangerous name, each sent a work order in March."""
    kind = org.units["pingshan_street"].kind
    category = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    units = {}
    for key, name in DANGEROUS_NAMES.items():
        unit = make_unit(name, kind, org.regions["pingshan_street"], org.units["pingshan"])
        with frozen(at(2, 9)):
            case = services.register_case(
                by=personas["operator"],
                unit=org.units["pingshan"],
                request_type="help",
                category=category,
                summary="摘要。",
                region=org.regions["pingshan_street"],
            )
        with frozen(at(2, 10)):
            services.dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=unit, time_class="standard")
        units[key] = unit
    return units


@pytest.fixture
def confidential_case(dataset):
    """W1's case: a confidential location with a distinctive address."""
    case = Case.objects.get(pk=dataset.cases["W1"].pk)
    case.address = CONFIDENTIAL_ADDRESS
    case.location_confidential = True
    case.save()
    return case


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def _xlsx(response):
    workbook = load_workbook(io.BytesIO(response.content))
    return workbook.worksheets[0]


def _get(client, user, url):
    log_in(client, user)
    with frozen(NOW):
        return client.get(url)


@pytest.mark.parametrize("path", ["/assessment/export.csv?", "/assessment/cases/export.csv?figure=received&"])
def test_csv_cells_are_escaped_against_formulas(client, personas, dangerous_units, path) -> None:
    rows = _csv(_get(client, personas["supervisor"], f"{path}{MARCH}"))
    cells = [cell for row in rows for cell in row]
    for name in DANGEROUS_NAMES.values():
        assert "'" + name in cells
        assert name not in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


@pytest.mark.parametrize("path", ["/assessment/export.xlsx?", "/assessment/cases/export.xlsx?figure=received&"])
def test_excel_cells_are_text_never_formulas(client, personas, dangerous_units, path) -> None:
    response = _get(client, personas["supervisor"], f"{path}{MARCH}")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = _xlsx(response)
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not any(cell.data_type == "f" for cell in cells)
    values = [cell.value for cell in cells if isinstance(cell.value, str)]
    for name in DANGEROUS_NAMES.values():
        # XML reads a raw carriage return back as a line feed; the apostrophe still comes first.
        assert "'" + name.replace("\r", "\n") in values
    assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in values)


def test_table_export_holds_the_figures(client, personas, dataset) -> None:
    rows = _csv(_get(client, personas["supervisor"], f"/assessment/export.csv?{MARCH}"))
    header, *body = rows
    by_unit = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert list(by_unit) == ["Pingshan District Women's Federation", "坪山街道妇联", "Pingshan HR Bureau", "Total"]
    street = by_unit["坪山街道妇联"]
    assert street["On-time sign-for rate (%)"] == "80.0"
    assert (street["On-time sign-for rate: numerator"], street["On-time sign-for rate: denominator"]) == ("4", "5")
    assert street["Satisfaction rate"] == "no ratings yet"
    assert street["Overdue working days"] == "6"
    assert street["Mean handling time (working hours)"] == "30.0"
    assert by_unit["Total"]["Dispatch accuracy (%)"] == "87.5"


def test_exports_never_hold_a_sibling_districts_cases(client, personas, dataset) -> None:
    pingshan_numbers = {case.number for key, case in dataset.cases.items() if key != "longhua"}
    longhua_number = dataset.cases["longhua"].number
    for user, mine, theirs in ((personas["supervisor"], pingshan_numbers, {longhua_number}), (personas["supervisor_twin"], {longhua_number}, pingshan_numbers)):
        client.logout()
        rows = _csv(_get(client, user, f"/assessment/cases/export.csv?figure=received&{MARCH}"))
        numbers = {row[0] for row in rows[1:]}
        assert numbers and numbers <= mine
        assert not numbers & theirs
        client.logout()
        sheet = _xlsx(_get(client, user, f"/assessment/cases/export.xlsx?figure=received&{MARCH}"))
        numbers = {row[0].value for row in sheet.iter_rows(min_row=2)}
        assert numbers and numbers <= mine
        assert not numbers & theirs
        client.logout()
        table = _csv(_get(client, user, f"/assessment/export.csv?{MARCH}"))
        units = {row[0] for row in table[1:]}
        assert ("坪山街道妇联" in units) is (user == personas["supervisor"])
        assert ("龙华街道妇联" in units) is (user == personas["supervisor_twin"])


def test_confidential_fields_never_appear(client, personas, dataset, confidential_case) -> None:
    for path in (f"/assessment/cases/export.csv?figure=received&{MARCH}", f"/assessment/export.csv?{MARCH}"):
        client.logout()
        body = b"".join(_get(client, personas["supervisor"], path).streaming_content).decode("utf-8")
        assert CONFIDENTIAL_ADDRESS not in body
        assert "某工业园" not in body  # no address at all
        assert "拖欠工资" not in body  # nor the summary
    client.logout()
    rows = _csv(_get(client, personas["supervisor"], f"/assessment/cases/export.csv?figure=received&{MARCH}"))
    row = next(row for row in rows if row[0] == confidential_case.number)
    assert row[rows[0].index("Region")] == "Confidential"
    client.logout()
    sheet = _xlsx(_get(client, personas["supervisor"], f"/assessment/cases/export.xlsx?figure=received&{MARCH}"))
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert CONFIDENTIAL_ADDRESS not in values
    assert not any(isinstance(v, str) and "某工业园" in v for v in values)


def test_every_export_is_audited(client, personas, dataset, org) -> None:
    before = AuditEntry.objects.filter(action=AuditAction.EXPORT).count()
    supervisor = personas["supervisor"]
    for path in (
        f"/assessment/export.csv?{MARCH}",
        f"/assessment/export.xlsx?{MARCH}",
        f"/assessment/cases/export.csv?figure=overdue&unit={org.units['pingshan_street'].pk}&{MARCH}",
        f"/assessment/cases/export.xlsx?figure=received&{MARCH}",
    ):
        client.logout()
        response = _get(client, supervisor, path)
        assert response.status_code == 200
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    entries = list(AuditEntry.objects.filter(action=AuditAction.EXPORT).order_by("id"))[before:]
    assert [(e.event, e.changes["format"], e.changes["rows"], e.actor_id) for e in entries] == [
        ("assessment.export_table", "csv", 3, supervisor.pk),
        ("assessment.export_table", "xlsx", 3, supervisor.pk),
        ("assessment.export_work_orders", "csv", 2, supervisor.pk),
        ("assessment.export_work_orders", "xlsx", 9, supervisor.pk),
    ]
    assert entries[2].changes["figure"] == "overdue"
    assert entries[2].changes["unit"] == org.units["pingshan_street"].pk
    assert entries[0].changes["filters"]["first"] == "2026-03-01"
    assert entries[0].unit_id == org.units["pingshan"].pk


def test_a_denied_export_sends_nothing_and_writes_nothing(client, personas, dataset) -> None:
    before = AuditEntry.objects.filter(action=AuditAction.EXPORT).count()
    for persona in ("handler", "operator", "system_admin", "auditor"):
        client.logout()
        for path in ("/assessment/export.csv?", "/assessment/cases/export.xlsx?figure=received&"):
            assert _get(client, personas[persona], f"{path}{MARCH}").status_code == 403
    assert AuditEntry.objects.filter(action=AuditAction.EXPORT).count() == before


def test_an_unknown_figure_or_a_unit_out_of_scope_is_not_found(client, personas, dataset, org) -> None:
    supervisor = personas["supervisor"]
    before = AuditEntry.objects.filter(action=AuditAction.EXPORT).count()
    assert _get(client, supervisor, f"/assessment/cases/export.csv?figure=nonsense&{MARCH}").status_code == 404
    assert _get(client, supervisor, f"/assessment/cases/export.csv?figure=received&unit={org.units['longhua_street'].pk}&{MARCH}").status_code == 404
    assert AuditEntry.objects.filter(action=AuditAction.EXPORT).count() == before
