"""A small hand-built data set for the assessment, played through the services at frozen times.

Every work order is the lead order of its own case, registered by the Pingshan district
federation (the ``operator`` persona's unit) on Monday 2 March 2026 at 09:00 and dispatched by
the ``dispatcher`` persona at 10:00 (Asia/Shanghai), normal urgency and standard time class:
sign-for due Tuesday 3 March 18:00 (1 working day), first contact Wednesday 4 March 18:00
(2 working days), resolution Monday 9 March 18:00 (5 working days). The national calendar
has no holiday in March 2026; office hours are 09:00–12:00 and 14:00–18:00 (7 hours a day).

To the Pingshan street federation (``street``):

* W1 signed Mon 11:00, first contact Tue 10:00, clocks paused from Tue 14:00 to Wed 09:00
  (waiting for the petitioner: 4 working hours), completed Wed 4 Mar 11:00, accepted.
  Handling 6 + (7 − 4) + 2 = 11 working hours. A *pending* exclusion (it still counts).
* W2 signed Wed 10:00 (late), first contact Thu 10:00 (late), an extension asked for on
  Fri 6 Mar and *refused*, completed Tue 10 Mar 10:00 (late), accepted. Handling 6 + 4·7 + 7 + 1 = 42 h. Overdue 1 working day (Tue 10).
* W3 signed Mon 15:00, first contact Mon 16:00, 3 more working days asked for on Fri 6 Mar
  and approved by the district federation (resolution due Thu 12 Mar 18:00), completed Wed 11 Mar 10:00 (in time), accepted. 49 h.
* W4 signed Mon 11:00, first contact Mon 14:00, completed Tue 3 Mar 10:00, sent back at
  Tue 15:00, completed again Thu 5 Mar 10:00, accepted. The review (Tue 10:00–15:00) is a
  pause: handling 6 + 4 + 7 + 1 = 18 h.
* W5 signed Mon 11:00, no first contact yet: at "now" (Mon 16 Mar 12:00) its first-contact
  and resolution clocks run overdue. Overdue Tue 10 … Mon 16 = 5 working days.
* W6 returned Mon 14:00, the return ruled *unjustified* (it counts against the street).
* W10 never signed; its whole case excluded (approved).
* W12 sent on Friday 27 February (another period).

To the Pingshan human-resources bureau (``hr``):

* W7 returned, ruled *justified* (it counts against the district federation that sent it).
* W8 returned, not ruled yet (it counts for nobody, and is listed).
* W9 signed Mon 10:30, first contact Mon 11:00, completed Mon 17:00, accepted: 2 + 3 = 5 h.
* W11 never signed; this work order excluded (approved).

In Longhua, the twin district: one case dispatched by ``dispatcher_twin`` to the Longhua
street federation, signed and completed in time (the Pingshan readers never see it).
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import time_machine

from rightscare.assessment import services as assessment_services
from rightscare.cases import services
from rightscare.cases.models import Case, Category, WorkOrder
from rightscare.supervision import services as supervision

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: When the figures are read.
NOW = datetime.datetime(2026, 3, 16, 12, 0, tzinfo=SHANGHAI)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@contextmanager
def frozen(moment: datetime.datetime):
    with time_machine.travel(moment, tick=False):
        yield


@dataclass
class DataSet:
    orders: dict[str, WorkOrder] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    exclusions: dict[str, Any] = field(default_factory=dict)

    def refresh(self) -> None:
        for key, order in self.orders.items():
            self.orders[key] = WorkOrder.objects.get(pk=order.pk)


def _dispatch(org, personas, unit_key: str, *, sent: datetime.datetime, region_key: str = "pingshan_street", twin: bool = False, summary: str = "拖欠工资。"):
    operator = personas["operator_twin" if twin else "operator"]
    dispatcher = personas["dispatcher_twin" if twin else "dispatcher"]
    registering = org.units["longhua" if twin else "pingshan"]
    category = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    with frozen(sent - datetime.timedelta(hours=1)):
        case = services.register_case(
            by=operator,
            unit=registering,
            request_type="help",
            category=category,
            summary=summary,
            region=org.regions[region_key],
            address="某工业园 3 栋 501",
        )
    with frozen(sent):
        order = services.dispatch_case(case=case, by=dispatcher, dispatching_unit=registering, lead=org.units[unit_key], time_class="standard")[0]
    return case, order


def build_dataset(org, personas) -> DataSet:
    """Play the data set of the module docstring; return its cases and work orders."""
    data = DataSet()
    handler, hr_handler, dispatcher, supervisor = personas["handler"], personas["department_handler"], personas["dispatcher"], personas["supervisor"]
    monday = at(2, 10)

    def step(moment: datetime.datetime, action: Any) -> None:
        with frozen(moment):
            action()

    def play(key: str, unit_key: str, *, sent: datetime.datetime = monday, region_key: str = "pingshan_street") -> WorkOrder:
        case, order = _dispatch(org, personas, unit_key, sent=sent, region_key=region_key)
        data.cases[key], data.orders[key] = case, order
        return order

    def sign(order, moment, by=handler):
        step(moment, lambda: services.sign_for_work_order(work_order=order, by=by))

    def contact(order, moment, by=handler):
        step(moment, lambda: services.record_first_contact(work_order=order, by=by, note="电话联系。"))

    def complete(order, moment, by=handler):
        step(moment, lambda: services.complete_work_order(work_order=order, by=by, result="已处理。"))

    def review(order, moment, accept=True):
        step(moment, lambda: services.review_work_order(work_order=order, by=dispatcher, accept=accept, comment="" if accept else "材料不全。"))

    w1 = play("W1", "pingshan_street")
    sign(w1, at(2, 11))
    contact(w1, at(3, 10))
    step(at(3, 14), lambda: supervision.pause_clocks(work_order=w1, by=handler, reason_code="petitioner"))
    step(at(4, 9), lambda: supervision.resume_clocks(work_order=w1, by=handler))
    complete(w1, at(4, 11))
    review(w1, at(4, 12))

    w2 = play("W2", "pingshan_street")
    sign(w2, at(4, 10))
    contact(w2, at(5, 10))
    with frozen(at(6, 9)):
        refused = supervision.request_extension(work_order=w2, by=handler, days=2, reason="企业未到场。")
    step(at(6, 10), lambda: supervision.decide_extension(extension=refused, by=dispatcher, approve=False, note="期限内可以完成。"))
    complete(w2, at(10, 10))
    review(w2, at(10, 11))

    w3 = play("W3", "pingshan_street")
    sign(w3, at(2, 15))
    contact(w3, at(2, 16))
    with frozen(at(6, 9)):
        extension = supervision.request_extension(work_order=w3, by=handler, days=3, reason="需等待仲裁材料。")
    step(at(6, 10), lambda: supervision.decide_extension(extension=extension, by=dispatcher, approve=True))
    complete(w3, at(11, 10))
    review(w3, at(11, 11))

    w4 = play("W4", "pingshan_street")
    sign(w4, at(2, 11))
    contact(w4, at(2, 14))
    complete(w4, at(3, 10))
    review(w4, at(3, 15), accept=False)
    complete(w4, at(5, 10))
    review(w4, at(5, 11))

    w5 = play("W5", "pingshan_street")
    sign(w5, at(2, 11))

    w6 = play("W6", "pingshan_street")
    step(at(2, 14), lambda: services.return_work_order(work_order=w6, by=handler, reason="不属于本街道。"))
    step(at(2, 15), lambda: services.rule_on_return(work_order=w6, by=dispatcher, ruling="unjustified"))

    w7 = play("W7", "pingshan_hr")
    step(at(2, 14), lambda: services.return_work_order(work_order=w7, by=hr_handler, reason="应由劳动监察处理。"))
    step(at(2, 15), lambda: services.rule_on_return(work_order=w7, by=dispatcher, ruling="justified"))

    w8 = play("W8", "pingshan_hr")
    step(at(2, 14), lambda: services.return_work_order(work_order=w8, by=hr_handler, reason="信息不全。"))

    w9 = play("W9", "pingshan_hr")
    sign(w9, at(2, 10, 30), by=hr_handler)
    contact(w9, at(2, 11), by=hr_handler)
    complete(w9, at(2, 17), by=hr_handler)
    review(w9, at(2, 18))

    w10 = play("W10", "pingshan_street")
    w11 = play("W11", "pingshan_hr")
    play("W12", "pingshan_street", sent=at(27, 10, month=2))

    with frozen(at(12, 9)):
        pending = assessment_services.request_exclusion(by=handler, case=w1.case, unit=org.units["pingshan_street"], reason="重复来电。", work_order=w1)
        whole = assessment_services.request_exclusion(by=dispatcher, case=w10.case, unit=org.units["pingshan"], reason="恶意诉求。")
        one = assessment_services.request_exclusion(by=hr_handler, case=w11.case, unit=org.units["pingshan_hr"], reason="已在其他系统考核。", work_order=w11)
    with frozen(at(12, 10)):
        whole = assessment_services.decide_exclusion(by=supervisor, exclusion=whole, approve=True)
        one = assessment_services.decide_exclusion(by=supervisor, exclusion=one, approve=True, note="同意。")
    data.exclusions = {"pending": pending, "whole_case": whole, "work_order": one}

    case, order = _dispatch(org, personas, "longhua_street", sent=monday, region_key="longhua_street", twin=True, summary="龙华的案件。")
    data.cases["longhua"], data.orders["longhua"] = case, order
    step(at(2, 11), lambda: services.sign_for_work_order(work_order=order, by=personas["handler_twin"]))
    step(at(2, 12), lambda: services.record_first_contact(work_order=order, by=personas["handler_twin"], note="电话联系。"))
    step(at(3, 10), lambda: services.complete_work_order(work_order=order, by=personas["handler_twin"], result="已处理。"))
    data.refresh()
    return data


def add_ratings(org, personas, data: DataSet) -> DataSet:
    """Extend the data set with the petitioners' ratings, a rework and an unreachable case (issue 6).

    Played after :func:`build_dataset` (every case resolved by then has its open rating round):

    * W1: rated on the tracking page Thu 5 Mar 09:00 — solved, speed 5, quality 5.
    * W2: rated Wed 11 Mar 09:00 — not solved, speed 4, quality 2 (unsatisfied, unsolved).
    * W3: never rated; the return-visit officer calls Thu 12 Mar 09:00, 10:00 and 11:00 without
      reaching her: the round and the case are closed as unreachable (it counts in neither rate).
    * W4: not rated yet (its round is open, in the return-visit queue by now): counts in neither.
    * W9 (HR bureau): rated Tue 3 Mar 09:00 — not solved, 2 and 2; the district federation sends
      it back for rework Tue 3 Mar 10:00 (a new resolution clock: 5 working days, due Tue 10 Mar
      18:00); completed again Wed 4 Mar 10:00 (handling 2 + 4 + 1 = 7 working hours from the
      rework), accepted Wed 4 Mar 11:00; round 2 rated Thu 5 Mar 09:00 — partly solved, 3 and 3.
      Only the latest rating counts.
    """
    from rightscare.ratings import services as ratings
    from rightscare.ratings.public import submit_public_rating

    dispatcher, hr_handler, officer = personas["dispatcher"], personas["department_handler"], personas["return_visit"]

    def rate(key: str, moment: datetime.datetime, solved: str, speed: int, quality: int) -> None:
        with frozen(moment):
            submit_public_rating(case=data.cases[key], solved=solved, speed=speed, quality=quality)

    rate("W9", at(3, 9), "no", 2, 2)
    with frozen(at(3, 10)):
        ratings.send_back_for_rework(case=data.cases["W9"], by=dispatcher, reason="企业仍未补发。")
    with frozen(at(4, 10)):
        services.complete_work_order(work_order=data.orders["W9"], by=hr_handler, result="已补发。")
    with frozen(at(4, 11)):
        services.review_work_order(work_order=data.orders["W9"], by=dispatcher, accept=True)
    rate("W9", at(5, 9), "partly", 3, 3)
    rate("W1", at(5, 9), "yes", 5, 5)
    rate("W2", at(11, 9), "no", 4, 2)
    round_w3 = data.cases["W3"].rating_rounds.get()
    for hour in (9, 10, 11):
        with frozen(at(12, hour)):
            ratings.record_return_visit(round_=round_w3, by=officer, reached=False, note="无人接听。")
    ratings.sweep(now=NOW)
    data.refresh()
    for key, case in data.cases.items():
        data.cases[key] = Case.objects.get(pk=case.pk)
    return data
