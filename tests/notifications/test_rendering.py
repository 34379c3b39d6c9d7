"""The sandbox that renders administrators' message templates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy

from rightscare.notifications import rendering


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ name }}", "赵女士"),
        ("{% if count > 1 %}{{ count }} visits{% else %}one visit{% endif %}", "3 visits"),
        ("{% for letter in word %}{{ letter }}.{% endfor %}", "a.b."),
        ("{{ missing|default:'—' }}", "—"),
        ("{{ word|upper }} {{ name|length }} {{ count|add:2 }}", "AB 3 5"),
        ("{{ on|date:'Y-m-d' }}", "2026-03-09"),
        ("{{ markup }}", "<b>bold</b>"),
    ],
)
def test_text_and_the_safe_tags_and_filters_render(text, expected):
    values = {"name": "赵女士", "count": 3, "word": "ab", "on": date(2026, 3, 9), "markup": "<b>bold</b>"}
    assert rendering.render(text, values) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{% load static %}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% debug %}",
        "{% csrf_token %}",
        "{% url 'home' %}",
        "{% now 'Y' %}",
        "{{ x|safe }}",
        "{{ x|pprint }}",
        "{{ x._secret }}",
        "{% if %}",
    ],
)
def test_anything_else_does_not_compile(text):
    with pytest.raises(rendering.TemplateError):
        rendering.compile_template(text)


def test_the_context_holds_only_text_numbers_and_dates():
    class Record:
        password = "hunter2"

        def __str__(self) -> str:
            return "a record"

    with translation.override("en"):
        values = rendering.plain_context(
            {
                "record": Record(),
                "lazy": gettext_lazy("Supervisor"),
                "n": 2,
                "ok": True,
                "none": None,
                "day": date(2026, 1, 1),
                "at": datetime(2026, 1, 1, tzinfo=UTC),
            }
        )

    assert values["record"] == "a record"
    assert values["lazy"] == "Supervisor"
    assert (values["n"], values["ok"], values["none"], values["day"]) == (2, True, None, date(2026, 1, 1))
    assert values["at"].hour == 8  # shown in the installation's time zone (Asia/Shanghai)
    assert rendering.render("{{ record.password }}", values) == ""


def test_subjects_are_one_line_and_bounded_and_texts_trimmed():
    assert rendering.render_subject("  a\n\n b  ", {}) == "a b"
    assert len(rendering.render_subject("x" * 500, {})) == rendering.MAX_SUBJECT
    assert rendering.render_body("\n\n text \n", {}) == "text"
