"""The case search's pages: read once per request, and the same pages, rows and markup as before.

``views.OneReadPaginator`` reads a page's ids and the number of rows in one statement (the
scope's union computed once), then the page's rows by id; it must give exactly the pages of
Django's ``Paginator`` for every page number, odd ones included. ``forms.PlainSelect`` writes
the search form's selects in Python; it must write Django's markup.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django import forms
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rightscare.cases import selectors, views
from rightscare.cases.benchdata import Shape, generate
from rightscare.cases.forms import CaseSearchForm, PlainSelect
from rightscare.cases.models import CaseStatus
from rightscare.org.models import Membership
from rightscare.org.roles import Role
from tests.cases.pages import as_user

UNTIL = timezone.make_aware(datetime.datetime(2026, 3, 2))
#: One district: every case lands in the district dispatcher's search.
ONE_DISTRICT = Shape(provinces=1, cities=1, districts=1, streets=2, communities=2)
#: Page numbers as requests send them: valid, out of range, not numbers, floats.
NUMBERS: list[Any] = [None, "", "x", "1", "2", "3", "0", "-1", "4", "99", "2.0", "1e3", 1.0, 2.5, "100001", "99999999999999999999999"]


def dispatcher() -> Any:
    return Membership.objects.filter(role=Role.DISPATCHER, unit__kind__code="federation-district").select_related("user").order_by("pk").first().user


@pytest.fixture
def district(db):
    generate(cases=120, seed=11, shape=ONE_DISTRICT, years=1, until=UNTIL, chunk=500, progress=False)
    return dispatcher()


def shown(page: Any) -> tuple[Any, ...]:
    return (page.number, [case.pk for case in page.object_list], page.paginator.count, page.paginator.num_pages, page.has_next(), page.has_previous())


@pytest.mark.parametrize("filters", [selectors.CaseSearch(), selectors.CaseSearch(status=CaseStatus.CLOSED), selectors.CaseSearch(number="SZ-0-0")])
def test_one_read_pages_are_the_paginator_pages(district, filters):
    results = selectors.search_cases(by=district, filters=filters)
    for number in NUMBERS:
        expected = Paginator(results, 50).get_page(number)
        page = views.OneReadPaginator(results, 50, rows=views._listed_cases).get_page(number)
        assert shown(page) == shown(expected), number
        # The rows themselves, with what the list shows of them.
        assert [(c.number, c.category.display_name, c.region.display_name) for c in page.object_list] == [
            (c.number, c.category.display_name, c.region.display_name) for c in expected.object_list
        ]
    assert Paginator(results, 50).count in ({0} if filters.number else set(range(1, 121)))


@pytest.mark.parametrize("params", [{}, {"page": "2"}, {"status": CaseStatus.CLOSED}, {"page": "99"}])
def test_a_case_search_gathers_her_scope_once(client, district, params):
    """One statement unites her scope (``listed_for``'s UNION): the page and the number of cases come from it together."""
    as_user(client, district)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("case_search"), params)
    assert response.status_code == 200
    unions = [query["sql"] for query in captured.captured_queries if "UNION" in query["sql"]]
    # Past the last page: the page read finds nothing, the rows are counted, the last page is read.
    assert len(unions) == (3 if params.get("page") == "99" else 1), unions
    page = response.context["page"]
    expected = Paginator(selectors.search_cases(by=district, filters=selectors.CaseSearch(status=params.get("status", ""))), 50).get_page(params.get("page"))
    assert shown(page) == shown(expected)
    # Every row is shown, linked to its case, with its labels.
    html = response.content.decode()
    for row, case in zip(response.context["rows"], page.object_list, strict=True):
        assert row.case is case and row.url == reverse("case_detail", args=[case.pk])
        assert f'<a href="{row.url}">{case.number}</a>' in html
        assert (row.status_label, row.urgency_label) == (case.get_status_display(), case.get_urgency_display())


def test_the_plain_select_writes_djangos_select():
    choices = [
        ("", "---------"),
        ("a", 'Tom & "Jerry" <b>'),
        ("Group <1>", [(1, "one"), (2, "two")]),
        (3, "three"),
    ]
    for value in (None, "", "a", 2, "3", "nothing"):
        for attrs in (None, {"id": "id_x", "required": True, "disabled": False, "aria-describedby": 'x"y'}):
            django_select, plain = forms.Select(choices=choices), PlainSelect(choices=choices)
            assert plain.render("x", value, attrs) == django_select.render("x", value, attrs), (value, attrs)


def test_the_search_form_writes_the_same_markup_as_with_djangos_selects(district):
    for data in (None, {"status": CaseStatus.CLOSED, "region": "not a region", "unit": ""}):
        form = CaseSearchForm(data, user=district)
        if data:
            form.is_valid()
        for name in ("category", "status", "region", "unit"):
            assert isinstance(form.fields[name].widget, PlainSelect)
            plain = str(form[name])
            form.fields[name].widget.__class__ = forms.Select
            assert plain == str(form[name]), name
            assert plain.count("<option") == len(list(form.fields[name].choices)) > 1
