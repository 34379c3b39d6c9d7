"""Helpers shared by the forms of every app."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import Form


def apply_errors(form: Form, error: ValidationError) -> None:
    """Show a service's validation errors on the form fields they name (the rest above the form)."""
    if hasattr(error, "error_dict"):
        for name, found in error.message_dict.items():
            form.add_error(name if name in form.fields else None, found)
    else:
        form.add_error(None, error.messages)
