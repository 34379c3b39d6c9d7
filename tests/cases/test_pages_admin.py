"""The responsibility list and the categories: administrators edit them, every change is a new version."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from rightscare.audit.models import AuditEntry
from rightscare.cases import services
from rightscare.cases.models import Category, ResponsibilityRule
from rightscare.org.models import Region, UnitKind
from tests.cases.pages import as_user, category, post, register_zhao, unit_of


@pytest.fixture
def admin(demo_org):
    # System administrators must pass a second factor; log_in passes it when she has a device.
    TOTPDevice.objects.create(user=demo_org["admin"], name="default", confirmed=True)
    return demo_org["admin"]


def _district_employment_rule() -> ResponsibilityRule:
    return ResponsibilityRule.objects.get(valid_until__isnull=True, dispatch_level="district", category__code="employment")


def test_only_administrators_of_the_list(client, demo_org, admin):
    for username in ("city.dispatcher", "pingshan.admin", "city.supervisor"):
        as_user(client, demo_org[username])
        for name in ("rule_list", "rule_create", "category_list", "category_create"):
            assert client.get(reverse(name)).status_code == 403, (username, name)
    as_user(client, admin)
    response = client.get(reverse("rule_list"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert "人力资源部门" in response.content.decode()


def test_editing_a_rule_keeps_its_history(client, demo_org, admin):
    rule = _district_employment_rule()
    legal_aid = UnitKind.objects.get(code="legal-aid-centre")
    cohandlers = [*rule.cohandler_kinds.values_list("pk", flat=True), legal_aid.pk]
    as_user(client, admin)
    data = {
        "dispatch_level": "district",
        "category": rule.category_id,
        "lead_kind": rule.lead_kind_id,
        "cohandler_kinds": cohandlers,
        "time_class": "complex",
    }
    response = post(client, reverse("rule_edit", args=[rule.pk]), data)
    assert response.status_code == 302
    rule.refresh_from_db()
    new = _district_employment_rule()
    assert rule.valid_until is not None
    assert (new.replaces_id, new.pk != rule.pk) == (rule.pk, True)
    assert sorted(new.cohandler_kinds.values_list("code", flat=True)) == ["labour-inspection", "legal-aid-centre"]
    assert response["Location"] == reverse("rule_history", args=[new.pk])
    history = client.get(reverse("rule_history", args=[new.pk]))
    assert [v.pk for v in history.context["versions"]] == [new.pk, rule.pk]
    assert [v.pk for v in client.get(reverse("rule_history", args=[rule.pk])).context["versions"]] == [new.pk, rule.pk]
    entry = AuditEntry.objects.get(event="cases.save_rule", object_id=str(new.pk))
    assert entry.changes["cohandler_kinds"] == ["labour-inspection", "labour-inspection,legal-aid-centre"]
    # The old version cannot be edited any more: 409, nothing changes.
    count = ResponsibilityRule.objects.count()
    assert post(client, reverse("rule_edit", args=[rule.pk]), data).status_code == 409
    assert ResponsibilityRule.objects.count() == count
    # The suggestion follows the new version.
    zhao = register_zhao(demo_org)
    suggestion = services.suggest_dispatch(dispatching_unit=unit_of(demo_org["pingshan.dispatcher"]), category=zhao.category, region=zhao.region)
    assert suggestion.rule == new
    assert sorted(u.name for u in suggestion.cohandlers) == ["坪山街道劳动监察中队", "深圳市坪山区法律援助处"]


def test_rule_validation_and_retire(client, demo_org, admin):
    as_user(client, admin)
    kind = UnitKind.objects.get(code="human-resources")
    street = Region.objects.get(name="坪山街道")
    count = ResponsibilityRule.objects.count()
    bad = {
        "dispatch_level": "district",
        "region": street.pk,
        "category": category("employment").pk,
        "lead_kind": kind.pk,
        "cohandler_kinds": [kind.pk],
        "time_class": "standard",
    }
    response = post(client, reverse("rule_create"), bad)
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"cohandler_kinds", "region"}
    assert ResponsibilityRule.objects.count() == count
    good = {**bad, "region": "", "cohandler_kinds": [], "category": category("marriage-family").pk}
    assert post(client, reverse("rule_create"), good).status_code == 302
    created = ResponsibilityRule.objects.latest("pk")
    assert (created.dispatch_level, created.category.code, created.lead_kind, created.replaces_id) == ("district", "marriage-family", kind, None)
    assert client.get(reverse("rule_retire", args=[created.pk])).status_code == 200
    assert post(client, reverse("rule_retire", args=[created.pk])).status_code == 302
    created.refresh_from_db()
    assert created.valid_until is not None
    assert post(client, reverse("rule_retire", args=[created.pk])).status_code == 409
    assert AuditEntry.objects.filter(event="cases.retire_rule", object_id=str(created.pk)).count() == 1


def test_editing_a_category_opens_a_new_version(client, demo_org, admin):
    employment = category("employment")
    old_children = list(employment.children.filter(valid_until__isnull=True).values_list("pk", flat=True))
    zhao = register_zhao(demo_org)
    old_rules = list(ResponsibilityRule.objects.filter(category=employment, valid_until__isnull=True))
    as_user(client, admin)
    form = client.get(reverse("category_edit", args=[employment.pk])).context["form"]
    assert form.fields["code"].disabled
    data = {"code": "employment", "name": "就业与劳动权益", "name_en": "Employment and labour rights", "sort_order": employment.sort_order}
    response = post(client, reverse("category_edit", args=[employment.pk]), data)
    assert response.status_code == 302
    employment.refresh_from_db()
    new = category("employment")
    assert employment.valid_until is not None and new.pk != employment.pk
    assert (new.name, new.code) == ("就业与劳动权益", "employment")
    # Sub-categories follow the new version; the case keeps its own row; rules are versioned onto it.
    assert sorted(new.children.filter(valid_until__isnull=True).values_list("pk", flat=True)) == sorted(old_children)
    zhao.refresh_from_db()
    assert zhao.category.parent_id == new.pk
    for rule in old_rules:
        rule.refresh_from_db()
        assert rule.valid_until is not None
        assert ResponsibilityRule.objects.get(replaces=rule).category_id == new.pk
    history = client.get(reverse("category_history", args=[new.pk]))
    assert [v.pk for v in history.context["versions"]] == [new.pk, employment.pk]
    assert AuditEntry.objects.filter(event="cases.save_category", object_id=str(new.pk)).count() == 1


def test_new_category_code_must_be_free(client, demo_org, admin):
    as_user(client, admin)
    count = Category.objects.count()
    response = post(client, reverse("category_create"), {"code": "employment", "name": "重复", "sort_order": 0})
    assert response.status_code == 422
    assert response.context["form"].errors["code"]
    assert Category.objects.count() == count
    parent = category("employment")
    response = post(client, reverse("category_create"), {"code": "platform-workers", "name": "平台劳动者权益", "parent": parent.pk, "sort_order": 9})
    assert response.status_code == 302
    created = category("platform-workers")
    assert (created.parent_id, created.name) == (parent.pk, "平台劳动者权益")
    assert reverse("category_edit", args=[created.pk]) in client.get(reverse("category_list")).content.decode()
