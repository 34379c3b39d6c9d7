"""The request type of signed-in pages, for the type checker."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from rightscare.org.models import User


class StaffRequest(HttpRequest):
    """A request that passed ``login_required``: its user is a staff ``User``."""

    user: User
    htmx: HtmxDetails
