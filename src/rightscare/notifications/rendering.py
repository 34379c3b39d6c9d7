"""Rendering message templates in a sandbox.

Administrators write message templates in Django's template syntax, so the engine is
narrowed to what a message needs: ``if``, ``for`` and a handful of text filters. No
``load``, ``include``, ``extends``, ``debug``, ``url`` or ``csrf_token``; no template
files are reachable; and the context holds only plain text and numbers (every other
value is turned into text in the recipient's language before rendering), so a
template cannot walk from a value into the database or the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.utils import timezone
from django.utils.functional import Promise

from rightscare.core import memo

#: Tags a message template may use.
SAFE_TAGS = ("if", "for", "with", "comment", "firstof", "spaceless", "cycle", "filter", "ifchanged", "templatetag", "verbatim")
#: Filters a message template may use: text and numbers only.
SAFE_FILTERS = (
    "add",
    "capfirst",
    "center",
    "cut",
    "date",
    "default",
    "default_if_none",
    "first",
    "floatformat",
    "join",
    "last",
    "length",
    "ljust",
    "lower",
    "pluralize",
    "rjust",
    "slice",
    "time",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordcount",
    "wordwrap",
    "yesno",
)

#: The library of the sandbox (what ``builtins`` of the engine loads).
register = Library()
for _name in SAFE_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in SAFE_FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]

#: The longest subject and text a rendered message may have.
MAX_SUBJECT = 300
MAX_BODY = 20_000


class _SandboxEngine(Engine):
    # Django's engine always adds its default tags and filters; the sandbox adds none.
    default_builtins: ClassVar[list[str]] = []


_ENGINE = _SandboxEngine(loaders=[], libraries={}, builtins=[__name__], autoescape=False, string_if_invalid="")


class TemplateError(ValueError):
    """A message template that cannot be compiled in the sandbox."""


def plain_context(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a template sees: numbers and dates as they are, everything else as text.

    Call it with the recipient's language active: lazy translations and model
    instances (whose text depends on the language) are turned into text here.
    """
    plain: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or isinstance(value, (bool, int, float)):
            plain[name] = value
        elif isinstance(value, datetime):
            plain[name] = timezone.localtime(value) if timezone.is_aware(value) else value
        elif isinstance(value, date):
            plain[name] = value
        elif isinstance(value, (str, Promise)):
            plain[name] = str(value)
        else:
            plain[name] = str(value)
    return plain


def compile_template(text: str) -> Any:
    """Compile ``text`` in the sandbox, or raise :class:`TemplateError` with the reason."""
    try:
        return _ENGINE.from_string(text)
    except TemplateSyntaxError as error:
        raise TemplateError(str(error)) from error


def render(text: str, values: Mapping[str, Any]) -> str:
    """Render ``text`` with ``values`` (already :func:`plain_context`) in the sandbox.

    Compiled once per text within a ``core.memo.one_read_each`` block (a sweep batch renders
    the same few wordings many times); every time elsewhere.
    """
    template = memo.remembered(("message template compiled", text), lambda: compile_template(text))
    return str(template.render(Context(dict(values), autoescape=False)))


def render_subject(text: str, values: Mapping[str, Any]) -> str:
    """A subject: one line, at most :data:`MAX_SUBJECT` characters."""
    return " ".join(render(text, values).split())[:MAX_SUBJECT]


def render_body(text: str, values: Mapping[str, Any]) -> str:
    """A text: trimmed, at most :data:`MAX_BODY` characters."""
    return render(text, values).strip()[:MAX_BODY]
