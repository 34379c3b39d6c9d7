"""Helpers of the page tests: the seed's cases registered through the services, and form posts."""

from __future__ import annotations

import uuid
from typing import Any

from rightscare.cases import services
from rightscare.cases.models import Case, Category, LegalBasis, PartyRole, RequestType, Urgency, WorkOrder
from rightscare.org.models import Region, Unit, User
from rightscare.registry.models import Sex
from rightscare.registry.services import record_person
from tests.conftest import log_in


def unit_of(user: User) -> Unit:
    return Unit.objects.get(pk=user.memberships.get().unit_id)


def unit_named(name: str) -> Unit:
    return Unit.objects.get(name=name)


def category(code: str) -> Category:
    return Category.objects.get(code=code, valid_until__isnull=True)


def key() -> str:
    return uuid.uuid4().hex


def register_zhao(users: dict[str, User], *, summary: str = "孕期被扣工资，哺乳期不续签合同。", phone: str = "138 0013 8021", name: str = "赵女士") -> Case:
    """Zhao's case as the city hotline registers it (Pingshan street, labour rights)."""
    operator = users["hotline"]
    zhao = record_person(by=operator, unit=unit_of(operator), name=name, sex=Sex.FEMALE, approximate_age=33, phones=[(phone, False)])
    return services.register_case(
        by=operator,
        unit=unit_of(operator),
        request_type=RequestType.HELP,
        category=category("pregnancy-discrimination"),
        summary=summary,
        region=Region.objects.get(name="坪山街道"),
        address="坪山街道某工业园",
        petitioner=zhao,
        parties=[services.PartyInput(role=PartyRole.RESPONDENT, organisation_name="某电子科技有限公司")],
    )


def register_cai(users: dict[str, User]) -> Case:
    """The Cai family's case as the Longhua federation registers the police referral (a mandatory report)."""
    longhua = users["longhua.dispatcher"]
    unit = unit_of(longhua)
    mother = record_person(by=longhua, unit=unit, name="刘某某", sex=Sex.FEMALE, approximate_age=41, phones=[("138 0013 8032", True)])
    father = record_person(by=longhua, unit=unit, name="蔡某", sex=Sex.MALE, approximate_age=45, phones=[("138 0013 8031", False)])
    return services.register_case(
        by=longhua,
        unit=unit,
        request_type=RequestType.HELP,
        category=category("dv-with-children"),
        urgency=Urgency.URGENT,
        summary="医院发现16岁女孩多处伤情并报警。",
        region=unit.region,
        address="龙华区某小区",
        petitioner=mother,
        parties=[
            services.PartyInput(role=PartyRole.RESPONDENT, person=father),
            services.PartyInput(role=PartyRole.REPORTER, organisation_name="龙华区人民医院急诊科", confidential=True),
        ],
        police_notified=True,
    )


def dispatch_on_suggestion(case: Case, dispatcher: User, legal_basis: str = LegalBasis.CONSENT) -> list[WorkOrder]:
    unit = unit_of(dispatcher)
    suggestion = services.suggest_dispatch(dispatching_unit=unit, category=case.category, region=case.region)
    assert suggestion.lead is not None
    return services.dispatch_case(
        case=case, by=dispatcher, dispatching_unit=unit, lead=suggestion.lead, cohandlers=suggestion.cohandlers, legal_basis=legal_basis
    )


def as_user(client: Any, user: User) -> Any:
    client.logout()
    return log_in(client, user)


def post(client: Any, url: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    """POST a page form with a fresh submission key (unless one is given)."""
    payload = {"idempotency_key": key(), **(data or {})}
    return client.post(url, payload, **extra)
