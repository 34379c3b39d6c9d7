"""The demo plays Zhao's and the Cai family's cases through the services."""

import io

import pytest

from rightscare.cases.models import Case, CaseStatus, WorkOrder
from rightscare.org.demo import load_demo


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    load_demo(stdout=io.StringIO())


def test_zhao_case_is_closed_with_the_compensation(demo):
    case = Case.objects.get(category__code="pregnancy-discrimination")
    assert case.status == CaseStatus.CLOSED
    assert WorkOrder.objects.get(case=case, unit__name="深圳市坪山区人力资源局").amount_yuan == 130000


def test_cai_case_moved_to_guangming_with_a_confidential_address(demo):
    case = Case.objects.get(category__code="dv-with-children")
    assert case.status == CaseStatus.IN_PROGRESS
    assert case.location_confidential
    assert case.region.parent.name == "光明区" or case.region.name == "光明区"
    assert sorted(WorkOrder.objects.filter(case=case).values_list("unit__name", "status")) == [
        ("光明区妇联", "in_progress"),
        ("深圳市光明区民政局", "in_progress"),
        ("深圳市公安局光明分局", "in_progress"),
        ("深圳市公安局龙华分局", "transferred"),
        ("龙华区妇联", "transferred"),
    ]
