"""Two handlers act on the same work order at the same moment: exactly one wins.

Both threads read the work order, meet at a barrier placed between the service's
read and its write (``services.TEST_HOOKS``), then both try to write. Without the
version check both would succeed; with it the second gets a clear conflict.
"""

import threading

import pytest
from django.db import connection

from rightscare.cases import services
from rightscare.cases.models import Category, RequestType, WorkOrder
from rightscare.core.errors import Conflict
from rightscare.org import services as org_services
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Role
from tests.cases.test_zhao_case import unit_of
from tests.factories import UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_two_concurrent_sign_fors_wins(demo_org):
    city, pingshan = demo_org["city.dispatcher"], demo_org["pingshan.dispatcher"]
    lead = Unit.objects.get(kind__code="federation-district", region__name="坪山区")
    colleague = UserFactory(username="pingshan.second")
    org_services.grant_role(by=demo_org["admin"], user=colleague, unit=lead, role=Role.HANDLER)
    case = services.register_case(
        by=city,
        unit=unit_of(city),
        request_type=RequestType.HELP,
        category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
        summary="拖欠工资。",
        region=Region.objects.get(name="坪山区"),
    )
    [order] = services.dispatch_case(case=case, by=city, dispatching_unit=unit_of(city), lead=lead)

    barrier = threading.Barrier(2, timeout=20)
    services.TEST_HOOKS["work_order.read"] = barrier.wait
    outcomes: dict[str, str] = {}

    def sign(user) -> None:
        try:
            services.sign_for_work_order(work_order=WorkOrder.objects.get(pk=order.pk), by=user)
            outcomes[user.username] = "won"
        except Conflict as error:
            outcomes[user.username] = f"conflict: {error}"
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(user,)) for user in (pingshan, colleague)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        services.TEST_HOOKS.clear()
    assert sorted(o.split(":")[0] for o in outcomes.values()) == ["conflict", "won"]
    fresh = WorkOrder.objects.get(pk=order.pk)
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    assert (fresh.status, fresh.version, fresh.signed_by.username) == ("signed", 1, winner)
