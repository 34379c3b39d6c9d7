"""The demo's finished case has the petitioner's rating, taken by phone by the city's return-visit officer."""

import io

import pytest

from rightscare.cases.models import Case
from rightscare.org.demo import load_demo
from rightscare.ratings.models import Rating, RoundStatus


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    load_demo(stdout=io.StringIO())


def test_zhao_rated_her_closed_case(demo):
    case = Case.objects.get(category__code="pregnancy-discrimination")
    rating = Rating.objects.get(case=case)
    assert (rating.round_number, rating.solved, rating.speed, rating.quality, rating.channel) == (1, "yes", 5, 5, "phone")
    assert rating.taken_by.username == "city.returnvisit"
    assert case.rating_rounds.get().status == RoundStatus.RATED
    # The Cai family's case is still being handled: nothing to rate.
    assert not Rating.objects.exclude(case=case).exists()
