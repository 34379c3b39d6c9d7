"""The access checks decided from her memberships (no query) agree with the queryset versions, for every persona."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from rightscare.cases.services import REGISTERING_CAPABILITIES, may_register_for
from rightscare.org import access
from rightscare.org.models import Region, Unit


def test_sees_region_is_visible_regions(org, personas) -> None:
    regions = list(Region.objects.all())
    for name, user in personas.items():
        visible = set(access.visible_regions(user).values_list("pk", flat=True))
        access.grants_of(user)  # her memberships, loaded once per request
        with CaptureQueriesContext(connection) as captured:
            decided = {region.pk for region in regions if access.sees_region(user, region)}
        assert decided == visible, name
        assert not captured.captured_queries


def test_may_register_for_is_her_units_that_take_calls_or_dispatch(org, personas) -> None:
    units = list(Unit.objects.all())
    for name, user in personas.items():
        allowed = {unit.pk for capability in REGISTERING_CAPABILITIES for unit in access.units_with_capability(user, capability)}
        assert {unit.pk for unit in units if may_register_for(user, unit)} == allowed, name
