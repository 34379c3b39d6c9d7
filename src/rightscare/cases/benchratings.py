"""The ratings side of ``rightscare bench-data``: rating rounds, ratings, return visits (回访).

:class:`BenchRatings` replays, for every case the generator resolved, what
:mod:`rightscare.ratings.services` would have written along its history up to the generator's
``until``, with the same statuses, numbers, versions, timestamps and timeline events:

* a **round** opens at the resolution (``case_resolved``), due for a rating ``RATING_WAIT_DAYS``
  later, ``next_check_at`` set to that moment;
* about **66 %** of the petitioners (50 % of the cases without a known petitioner) rate on the
  tracking page within the wait, most within a day or two (``submit_public_rating``: channel
  ``public``, no officer; event RATED, public);
* the others are put into the return-visit queue by the **sweep** at the due time (reason
  ``no_rating``, RETURN_VISIT event "no rating within … days"), then called by the return-visit
  officer of the case's city federation (one per city, a unit that never handles cases, so it
  may collect their ratings) in office hours, 0.1–2.5 days apart; each call reaches her with
  probability 0.55 (never without a known petitioner): reached, she rates by phone
  (``record_return_visit``: RETURN_VISIT then RATED, the return visit finished); after
  ``RETURN_VISIT_MAX_ATTEMPTS`` calls that did not reach her the round is closed as
  **unreachable** and so is the case, when it is still resolved and not under safety
  follow-up (CLOSED with ``reason: unreachable``; under follow-up a RETURN_VISIT event says it
  stays open). The generator's dispatchers close a case 1–10 days after its resolution, mostly
  before the last call, so such a closing is rare. Of all rounds that ran their course (10,000
  cases): about 64 % rated online, 30 % by phone (most at the first or second call), 6 %
  unreachable;
* **scores**: 92 % satisfied (solved yes 86 % / partly; speed and quality 5, 4 or 3 in
  60/32/8), 8 % unsatisfied or "not solved" (half each); such a rating puts the round into
  the return-visit queue at once (reason ``unsatisfied``, unless a phone rating's round was
  queued already), and the officer calls her back (reached with probability 0.8; after the
  last unanswered call the return visit ends too); a quarter of public ratings and 40 % of
  phone ratings carry a comment;
* rounds of cases resolved shortly before ``until`` are still open (not yet due: the sweep has
  not seen them), or queued and waiting for a call, as the services and the sweep leave them:
  running ``ratings.sweep`` at ``until`` queues nothing.

Not generated: **rework** (重办, ``send_back_for_rework``). A rework reopens the lead work order
and the case, restarts the resolution and update clocks, and leads to a second completion,
review, resolution, safety follow-up and closing: it would have to be woven into the life
cycle and the clock replay (:mod:`.benchclocks`) rather than added after them, so every case
has at most one round, its rating the case's latest (``Rating.latest``), and the generated
rework rate is zero. Like the rest of the generator: no audit entries and no messages (the
invitation to rate is not queued). The ratings draw from a random stream of their own, so the
cases, work orders, clocks and follow-ups are those the same seed gave before ratings were
generated (but for the rare case closed as unreachable).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rightscare.org.roles import Role
from rightscare.ratings import services as rating_services
from rightscare.ratings.models import SATISFIED_FROM, Rating, RatingChannel, RatingRound, ReturnVisitAttempt, ReturnVisitReason, RoundStatus, Solved

UTC = datetime.UTC

#: Share of petitioners who rate on the tracking page within the wait (of cases without a known petitioner).
ONLINE = 0.66
ONLINE_ANONYMOUS = 0.5
#: Chance that one return-visit call reaches her: to take her rating, after an unsatisfied rating.
REACHED = 0.55
REACHED_AFTER_UNSATISFIED = 0.8
#: Share of ratings unsatisfied or "not solved" (they go to the return-visit queue).
UNSATISFIED = 0.08
#: Scores of a satisfied rating, and the share of satisfied ratings saying "solved" (the others "partly").
SATISFIED_SCORES = ((5, 60), (4, 32), (3, 8))
SOLVED_WHEN_SATISFIED = 0.86
#: Share of public and of phone ratings with a comment.
PUBLIC_COMMENTS = 0.25
PHONE_COMMENTS = 0.4

PRAISE = ("感谢妇联的帮助！", "处理很及时，非常满意。", "工作人员很耐心。", "问题已经解决，谢谢。")
COMPLAINTS = ("问题没有真正解决。", "处理太慢了。", "对方仍未履行协议。", "希望重新处理。")
REACHED_NOTES = ("已电话回访，当事人对处理结果表示认可。", "已电话回访，记录当事人评价。")
FOLLOW_UP_NOTES = ("已回访，记录当事人意见并反馈承办单位。", "已回访，向当事人解释处理依据。")
MISSED_NOTES = ("电话无人接听。", "电话关机。", "通话中，稍后再拨。", "号码暂时无法接通。")


class BenchRatings:
    """What the ratings app would have written for the generator's resolved cases (see the module docstring)."""

    def __init__(self, bench: Any, seed: int) -> None:
        self.bench = bench
        self.rng = random.Random(f"ratings-{seed}")  # its own stream: the cases stay those of earlier runs
        self.until: datetime.datetime = bench.until
        self.zone = bench.zone
        self.wait = rating_services.rating_wait()
        self.max_attempts = rating_services.max_attempts()
        self.scores = [score for score, weight in SATISFIED_SCORES for _n in range(weight)]
        days = int(settings.RATING_WAIT_DAYS)
        with translation.override(settings.LANGUAGE_CODE):
            # The system texts of the sweep and of record_return_visit, as system_text renders them.
            self.texts = {
                "due": _("No rating within %(days)s days: a return visit by phone is due.") % {"days": days},
                "held": _("The petitioner could not be reached; the case stays open for its safety follow-up."),
                "unreachable": _("Closed: the petitioner could not be reached for the return visit."),
            }
        # One return-visit officer per city federation: it never handles a work order, so it may take ratings.
        self.officers: dict[int, int] = {}
        for city in bench.cities:
            unit = city.federation
            self.officers[unit.pk] = bench._user(unit, Role.RETURN_VISIT_OFFICER, full_name=self._name())

    def _name(self) -> str:
        from .benchdata import FEMALE_GIVEN, _pick

        rng = self.rng
        return _pick(rng, self.bench.surnames) + "".join(rng.choice(FEMALE_GIVEN) for _ in range(2))

    # --- one resolution ----------------------------------------------------------------------

    def case_resolved(
        self,
        case: dict[str, Any],
        officer_unit: int,
        resolved_at: datetime.datetime,
        *,
        closes_at: datetime.datetime | None,
        followed_up: bool,
        follow_up_ends: datetime.datetime | None,
        event: Callable[..., None],
    ) -> datetime.datetime | None:
        """Write the round opened at ``resolved_at`` and what became of it by ``until``.

        ``closes_at``: when the generator would close the case (None: never, its safety
        follow-up is open at ``until``); ``followed_up``: whether a safety follow-up opened at the
        resolution, ``follow_up_ends`` when it ended (None: open at ``until``). Returns when the generator still closes the
        case: None when the last unanswered return-visit call closed it as unreachable.
        """
        rng = self.rng
        until = self.until
        due = resolved_at + self.wait
        round_ = self.bench.writer.add(
            RatingRound,
            {
                "id": self.bench.ids(RatingRound),
                "case_id": case["id"],
                "number": 1,
                "opened_at": resolved_at,
                "rating_due_at": due,
                "status": RoundStatus.OPEN.value,
                "closed_at": None,
                "next_check_at": due,
                "return_visit_reason": "",
                "return_visit_since": None,
                "return_visit_done_at": None,
                "version": 0,
                "created_at": resolved_at,
                "updated_at": resolved_at,  # every later change is a queryset update: auto_now never runs
            },
        )
        reachable = case["petitioner_id"] is not None
        if rng.random() < (ONLINE if reachable else ONLINE_ANONYMOUS):
            hours = rng.expovariate(1 / 30)
            wait_hours = self.wait.total_seconds() / 3600
            if hours >= wait_hours - 0.5:
                hours = rng.uniform(0.5, wait_hours - 0.5)
            at = resolved_at + datetime.timedelta(hours=hours)
            if at <= until and self._rate(round_, at, RatingChannel.PUBLIC.value, None, None, event):
                self._return_visit(round_, case, at, officer_unit, reachable, rate=False, event=event)
            return closes_at
        if due > until:
            return closes_at
        # The sweep at the due time: the round goes to the return-visit team's queue.
        round_.update(next_check_at=None, return_visit_reason=ReturnVisitReason.NO_RATING.value, return_visit_since=due, version=round_["version"] + 1)
        event(due, "return_visit", text=self.texts["due"], data={"round": round_["number"], "due": True})
        last = self._return_visit(round_, case, due, officer_unit, reachable, rate=True, event=event)
        if last is None:
            return closes_at
        # Closed as unreachable: the case too, unless it is closed already or held open for her safety.
        if closes_at is not None and closes_at <= last:
            return closes_at
        officer = self.officers[officer_unit]
        if followed_up and (follow_up_ends is None or last < follow_up_ends):
            event(last, "return_visit", actor_id=officer, unit_id=officer_unit, text=self.texts["held"])
            return closes_at
        event(
            last,
            "closed",
            actor_id=officer,
            unit_id=officer_unit,
            text=self.texts["unreachable"],
            public_text=gettext_noop("Your request has been closed."),
            visibility="public",
            data={"reason": "unreachable"},
        )
        case.update(status="closed", closed_at=last, updated_at=last, version=case["version"] + 1)
        return None

    def _return_visit(
        self,
        round_: dict[str, Any],
        case: dict[str, Any],
        since: datetime.datetime,
        unit: int,
        reachable: bool,
        *,
        rate: bool,
        event: Callable[..., None],
    ) -> datetime.datetime | None:
        """The calls of a queued round (``record_return_visit``), up to ``until``; return the last call's time when the round became unreachable."""
        rng = self.rng
        officer = self.officers[unit]
        last = since
        for number in range(1, self.max_attempts + 1):
            at = self._call_time(last)
            if at > self.until:
                return None
            reached = reachable and rng.random() < (REACHED if rate else REACHED_AFTER_UNSATISFIED)
            note = rng.choice((REACHED_NOTES if rate else FOLLOW_UP_NOTES) if reached else MISSED_NOTES)
            self.bench.writer.add(
                ReturnVisitAttempt,
                {
                    "id": self.bench.ids(ReturnVisitAttempt),
                    "round_id": round_["id"],
                    "number": number,
                    "at": at,
                    "reached": reached,
                    "note": note,
                    "by_id": officer,
                    "unit_id": unit,
                },
            )
            event(at, "return_visit", actor_id=officer, unit_id=unit, text=note, data={"round": round_["number"], "attempt": number, "reached": reached})
            if reached:
                if rate:
                    self._rate(round_, at, RatingChannel.PHONE.value, officer, unit, event)
                round_.update(return_visit_done_at=at, version=round_["version"] + 1)
                return None
            if number >= self.max_attempts:
                round_.update(return_visit_done_at=at, version=round_["version"] + 1)
                if round_["status"] == RoundStatus.OPEN:
                    round_.update(status=RoundStatus.UNREACHABLE.value, closed_at=at, next_check_at=None)
                    return at
                return None
            last = at
        return None

    def _call_time(self, after: datetime.datetime) -> datetime.datetime:
        """A call 0.1–2.5 days after ``after``, on a working day between 9:00 and 17:30 local time."""
        rng = self.rng
        local = (after + datetime.timedelta(days=rng.uniform(0.1, 2.5))).astimezone(self.zone)
        while local.weekday() >= 5:
            local += datetime.timedelta(days=1)
        local = local.replace(hour=9, minute=0, second=0, microsecond=0) + datetime.timedelta(seconds=rng.uniform(0, 8.5 * 3600))
        at = local.astimezone(UTC)
        while at <= after:
            at += datetime.timedelta(days=1)
        return at

    def _rate(self, round_: dict[str, Any], at: datetime.datetime, channel: str, by: int | None, unit: int | None, event: Callable[..., None]) -> bool:
        """``_record_rating``: the round's one rating, the round rated, the RATED event; return whether a return visit is needed."""
        rng = self.rng
        if rng.random() < UNSATISFIED:
            if rng.random() < 0.5:
                solved, speed, quality = Solved.NO.value, rng.choice((1, 2, 2, 3, 3, 4)), rng.choice((1, 2, 2, 3, 3, 4))
            else:
                solved = Solved.PARTLY.value if rng.random() < 0.6 else Solved.YES.value
                speed, quality = rng.choice((1, 2, 3, 4)), rng.choice((1, 2, 3, 4))
                if speed >= SATISFIED_FROM and quality >= SATISFIED_FROM:
                    speed = rng.choice((1, 2))
            texts = COMPLAINTS
        else:
            solved = Solved.YES.value if rng.random() < SOLVED_WHEN_SATISFIED else Solved.PARTLY.value
            speed, quality = rng.choice(self.scores), rng.choice(self.scores)
            texts = PRAISE
        comment = rng.choice(texts) if rng.random() < (PUBLIC_COMMENTS if channel == RatingChannel.PUBLIC else PHONE_COMMENTS) else ""
        row = {
            "id": self.bench.ids(Rating),
            "round_id": round_["id"],
            "case_id": round_["case_id"],
            "round_number": round_["number"],
            "solved": solved,
            "speed": speed,
            "quality": quality,
            "comment": comment,
            "channel": channel,
            "taken_by_id": by,
            "taken_by_unit_id": unit,
            "created_at": at,
            "latest": True,  # every case has one round, so its one rating is its latest
        }
        self.bench.writer.add(Rating, row)
        needs_return_visit = speed < SATISFIED_FROM or quality < SATISFIED_FROM or solved == Solved.NO
        round_.update(status=RoundStatus.RATED.value, closed_at=at, next_check_at=None, version=round_["version"] + 1)
        if needs_return_visit and round_["return_visit_since"] is None:
            round_.update(return_visit_reason=ReturnVisitReason.UNSATISFIED.value, return_visit_since=at)
        event(
            at,
            "rated",
            actor_id=by,
            unit_id=unit,
            text=comment,
            public_text=gettext_noop("Thank you: your rating has been recorded."),
            visibility="public",
            data={"round": round_["number"], "solved": solved, "speed": speed, "quality": quality, "channel": channel},
        )
        return needs_return_visit
