"""Domain errors that services raise and the web and API layers translate."""

from __future__ import annotations


class Conflict(Exception):
    """The action clashes with the record's current state (answered as 409)."""


class AuthorisationError(Exception):
    """The user may see the record but not do this to it (answered as 403)."""
