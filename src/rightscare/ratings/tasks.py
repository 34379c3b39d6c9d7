"""Background work of the ratings: triggered by the scheduler, safe to run twice."""

from __future__ import annotations

from django_tasks import task


@task()
def sweep_ratings() -> int:
    """Queue a return visit for every rating round left unrated too long; return how many rounds it looked at.

    Triggered by the scheduler (job ``ratings.sweep``, every ``RATINGS_SWEEP_SECONDS``).
    Safe to run twice and in several workers at once: see :func:`rightscare.ratings.services.sweep`.
    """
    from rightscare.ratings.services import sweep

    return sweep().rounds
