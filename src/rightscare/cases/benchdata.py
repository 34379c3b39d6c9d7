"""Synthetic data at scale for benchmarks and query plans: ``rightscare bench-data --cases N``.

Writes, deterministically for a seed and an end date:

* a **synthetic region tree** provinces → cities → districts → streets → communities.
  Codes follow the 12-digit layout of the statistical division code (2+2+2+3+3 digits)
  but lie in the provinces **90–99, which no real code uses**, and are stored with
  ``code_scheme="other"``; names say so too (合成市0101, "Synthetic City 0101"). They are
  never to be mistaken for, or imported as, real division codes;
* **units**: a women's federation at every level, a neighbourhood committee in every
  community, departments in every district (human resources, public security, civil
  affairs, education, justice, health, a hospital) and a labour-inspection team in every
  street; **users** with memberships (operators, dispatchers, handlers, a supervisor, a
  return-visit officer in every city federation), all without a usable password;
* **people** with names drawn from the distribution of Chinese surnames and common given
  names, valid ID numbers (:func:`rightscare.core.identity.build_id_number`: a real
  birth-place code checked for the birth year, the check digit computed), mobile
  numbers from 138 1000 0000 upwards (China reserves no fictitious range; these are
  valid numbers that may exist, so a bench database must never send messages — this
  generator queues none), phones, ID numbers and addresses encrypted by the real field
  encryption with their blind indexes;
* **cases** over ``years`` years up to ``until`` with weighted categories (labour and
  family most common), urgencies (mostly normal), request types and channels, each
  played through a simulated life cycle — dispatch on the responsibility list, sign-for,
  first contact, notes, forwarding down, completion, review (sometimes sent back),
  returns with rulings, resolution, closing, direct answers, refusals and merges — with
  random durations, cut at ``until``: old cases are closed, recent ones are open at
  every stage. Their work orders, contacts, parties and timeline events are written
  exactly as the services would have written them (statuses, versions, timestamps,
  event data), so every invariant the services keep holds (see
  ``tests/cases/invariants.py``); only audit entries are not written (this is history,
  not actions; the audit benchmarks measure the log under load on their own);
* what **supervision** would have written along that history (:mod:`.benchclocks`): the four
  clocks of every work order on the presets of ``supervision.clocks`` and the bench calendar,
  stopped, missed and measured as its hooks do; review pauses of orders sent back; approved
  extensions of 3 % of the completed complex orders; for orders overdue at ``until`` the
  sweep's reminders, supervision and listing with their timeline events, and running clocks
  stamped as the sweep leaves them (running ``sweep`` at ``until`` sends nothing); safety
  follow-ups of resolved domestic-violence and child-protection cases (an open one keeps its
  case from closing). Simplified: progress notes do not restart the update clock (it
  restarts at the first contact and at a send-back), and the sweep's warnings and reminders
  about work finished before ``until`` are not replayed;
* what the **ratings** app would have written (:mod:`.benchratings`, whose docstring gives the
  proportions): a rating round opened at every resolution; most rated by the petitioner on the
  tracking page within a few days (about two thirds), the others queued by the sweep after
  ``RATING_WAIT_DAYS`` and rated by phone by the city's return-visit officer (with the calls that
  did not reach her), a few closed as unreachable (and their case with them, unless closed already
  or under safety follow-up); 8 % of the ratings unsatisfied or "not solved", followed by a
  return visit; recent rounds open or queued at ``until`` as the sweep leaves them (running
  ``ratings.sweep`` at ``until`` queues nothing). No rework (重办) is generated: every case has at
  most one round.

Rows get their ids from the generator (one ``max(id)`` per table at the start, the
sequences set afterwards), so nothing is read back while loading. On PostgreSQL the
rows go in by ``COPY`` (about three times the rate of ``bulk_create`` on this kind of
machine); elsewhere by ``bulk_create`` in batches. Each chunk of cases is one
transaction; a tqdm bar shows progress. Run it on a database nobody else writes to.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import itertools
import json
import operator
import queue
import random
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from tqdm import tqdm

from rightscare.cases import deadlines, numbering
from rightscare.cases.models import (
    Case,
    CaseEvent,
    CaseNumberSequence,
    CaseParty,
    Category,
    ResponsibilityRule,
)
from rightscare.core import crypto, identity, workcalendar
from rightscare.core.fields import BlindIndexField, EncryptedTextField
from rightscare.intake.models import Contact
from rightscare.org.divisions import CodeScheme, RegionLevel
from rightscare.org.models import Membership, Region, Unit, UnitKind, User
from rightscare.org.roles import Role
from rightscare.ratings.models import Rating, RatingRound, ReturnVisitAttempt
from rightscare.registry.models import Person, PersonPhone, SafeContact
from rightscare.supervision.models import Chase, ClockPause, Extension, SafetyFollowUp, WorkOrderClock

from .benchclocks import BenchSupervision
from .benchratings import BenchRatings
from .models import WorkOrder

#: Province part of every synthetic code: 90, 91, … (no real province code starts with 9).
FIRST_SYNTHETIC_PROVINCE = 90
#: Bench people's mobile numbers: +86 138 1000 0000, +86 138 1000 0001, … (the demo and tests use 138 00xx xxxx).
FIRST_PHONE = 13810000000
#: Cases of one chunk are written in one transaction.
DEFAULT_CHUNK = 2000


@dataclass(frozen=True)
class Shape:
    """How many regions of each level under one region of the level above."""

    provinces: int = 4
    cities: int = 4
    districts: int = 5
    streets: int = 4
    communities: int = 4

    @classmethod
    def parse(cls, text: str) -> Shape:
        """``"4,4,5,4,4"`` → a shape."""
        parts = [int(part) for part in text.split(",")]
        if len(parts) != 5 or not all(1 <= part <= 99 for part in parts):
            raise ValueError("a shape is five numbers 1–99: provinces,cities,districts,streets,communities")
        return cls(*parts)


@dataclass
class Report:
    """What was written, and how long it took."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    method: str = ""

    @property
    def rate(self) -> float:
        return self.counts.get("cases", 0) / self.seconds if self.seconds else 0.0


# --- weights: what a federation's hotline hears --------------------------------------------------

#: Top-level category → weight (share of cases); labour and family matters are the most common.
CATEGORY_WEIGHTS: dict[str, float] = {
    "employment": 26,
    "marriage-family": 24,
    "domestic-violence": 14,
    "custody-support": 8,
    "property-land": 7,
    "sexual-harassment-assault": 4,
    "child-abuse-neglect": 4,
    "personal-safety": 3,
    "online-violence": 2.5,
    "psychological-crisis": 2.5,
    "trafficking": 0.5,
    "other-rights": 4.5,
}
REQUEST_TYPES = (("help", 52), ("consultation", 30), ("complaint", 11), ("suggestion", 3), ("accusation", 4))
URGENCIES = (("normal", 86), ("urgent", 11), ("emergency", 3))
CHANNELS = (
    ("hotline", 52),
    ("platform_12345", 15),
    ("wechat", 10),
    ("walk_in", 9),
    ("web_form", 5),
    ("mini_program", 3),
    ("letter", 2),
    ("referral", 3),
    ("app", 1),
)
#: Share of consultations answered on the spot; of other requests not accepted; of cases that are duplicates merged away.
ANSWERED_ON_THE_SPOT = 0.85
NOT_ACCEPTED = 0.02
DUPLICATES = 0.01
#: Share of dispatches whose lead returns the work order; of reviews that send it back; of work orders that stall.
RETURNED = 0.04
SENT_BACK = 0.06
STALLED = 0.04
#: Share of work orders left lying at some stage, never finished.
ABANDONED = 0.01

#: (surname, weight per mille) — the most common Chinese surnames and their approximate shares.
SURNAMES = (
    ("王", 71), ("李", 70), ("张", 66), ("刘", 54), ("陈", 47), ("杨", 33), ("黄", 22), ("赵", 21), ("吴", 20), ("周", 19),
    ("徐", 16), ("孙", 15), ("马", 14), ("朱", 13), ("胡", 12), ("郭", 11), ("何", 11), ("林", 10), ("高", 10), ("罗", 10),
    ("郑", 9), ("梁", 9), ("谢", 8), ("宋", 8), ("唐", 7), ("许", 7), ("韩", 7), ("冯", 7), ("邓", 7), ("曹", 6),
    ("彭", 6), ("曾", 6), ("肖", 6), ("田", 5), ("董", 5), ("潘", 5), ("袁", 5), ("蔡", 5), ("蒋", 5), ("余", 5),
    ("于", 5), ("杜", 4), ("叶", 4), ("程", 4), ("魏", 4), ("苏", 4), ("吕", 4), ("丁", 4), ("任", 4), ("卢", 3),
    ("姚", 3), ("沈", 3), ("钟", 3), ("姜", 3), ("崔", 3), ("谭", 3), ("陆", 3), ("范", 3), ("汪", 3), ("廖", 3),
    ("石", 3), ("金", 3), ("韦", 3), ("贾", 3), ("夏", 2), ("付", 2), ("方", 2), ("邹", 2), ("熊", 2), ("白", 2),
    ("孟", 2), ("秦", 2), ("邱", 2), ("侯", 2), ("江", 2), ("尹", 2), ("薛", 2), ("闫", 2), ("段", 2), ("雷", 2),
    ("欧阳", 1), ("司马", 0.2), ("上官", 0.1),
)  # fmt: skip
FEMALE_GIVEN = "秀丽芳敏静燕婷娟霞玲桂英华梅兰红艳琳雪晶欣怡佳雨萱思梓涵诗慧颖洁倩莉萍琴云凤霖悦瑶嘉妍"
MALE_GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩俊帅建国志文博宁龙林峰东海亮成"
#: Birth-place codes (checked for the birth year with build_id_number; the first valid one is used).
BIRTH_PLACES = ("440303", "440304", "440305", "440106", "420502", "330481", "510104", "110101", "310101")

SUMMARIES: dict[str, tuple[str, ...]] = {
    "employment": ("公司拖欠工资三个月。", "怀孕后被调岗降薪。", "哺乳期被辞退。", "招聘时被问婚育情况并拒录。", "单位未缴社会保险。"),
    "marriage-family": ("离婚财产分割有争议。", "丈夫转移夫妻共同财产。", "子女不尽赡养义务。", "继承纠纷咨询。"),
    "domestic-violence": ("长期遭受丈夫殴打。", "丈夫控制全部收入并威胁。", "前夫持续骚扰威胁。", "孩子目睹家暴，需要帮助。"),
    "custody-support": ("前夫拒付抚养费。", "探望权被阻挠。", "孩子无人监护。"),
    "property-land": ("出嫁后土地承包权被收回。", "集体收益分配被排除。", "宅基地权益受侵害。"),
    "sexual-harassment-assault": ("遭受上司性骚扰。", "在公交上被骚扰。"),
    "child-abuse-neglect": ("邻居发现孩子经常被打。", "学校发现学生身上有伤。", "孩子长期无人照料。"),
    "personal-safety": ("被人跟踪纠缠。", "申请人身安全保护令。"),
    "online-violence": ("私密照片被传到网上。", "在网上被辱骂骚扰。"),
    "psychological-crisis": ("情绪低落，有轻生念头。", "长期失眠焦虑，需要心理疏导。"),
    "trafficking": ("亲属疑似被拐卖。",),
    "other-rights": ("女儿被劝退学。", "孕检费用报销问题。", "对妇联工作的建议。"),
}
NOTES = ("电话联系当事人了解情况。", "约谈双方。", "已上门走访。", "组织三方协商。", "已协调相关部门。", "已提供法律咨询。")
RESULTS = ("经协调，对方已道歉并赔偿。", "已依法处理完毕。", "已调解成功。", "已提供法律援助。", "已落实救助措施。")

#: Which unit kinds lead and co-handle a top-level category when a district dispatches (as ``cases.demo.RULES``).
DISTRICT_RULES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "employment": ("human-resources", ("labour-inspection",), "complex"),
    "domestic-violence": ("federation-district", ("public-security",), "standard"),
    "child-abuse-neglect": ("federation-district", ("public-security", "civil-affairs", "education"), "complex"),
}
DV_WITH_CHILDREN = ("federation-district", ("public-security", "civil-affairs"), "complex")
DISTRICT_DEPARTMENTS = ("human-resources", "public-security", "civil-affairs", "education", "justice", "health", "hospital")

Row = dict[str, Any]


def _weighted(pairs: Sequence[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    values = [value for value, _weight in pairs]
    cumulative = list(itertools.accumulate(weight for _value, weight in pairs))
    return values, cumulative


def _pick(rng: random.Random, table: tuple[list[Any], list[float]]) -> Any:
    values, cumulative = table
    return values[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]


# --- writing rows -----------------------------------------------------------------------------


class _Ids:
    """Ids handed out by the generator, from one past the largest in each table."""

    def __init__(self) -> None:
        self._next: dict[type[models.Model], int] = {}

    def __call__(self, model: type[models.Model]) -> int:
        if model not in self._next:
            self._next[model] = (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1
        value = self._next[model]
        self._next[model] = value + 1
        return value


@contextmanager
def _timestamps_as_given(model_list: Sequence[type[models.Model]]) -> Iterator[None]:
    """Let ``bulk_create`` keep the generated ``created_at``/``updated_at`` (auto_now would overwrite them)."""
    switched = []
    for model in model_list:
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, models.DateField) and (model_field.auto_now or model_field.auto_now_add):
                switched.append((model_field, model_field.auto_now, model_field.auto_now_add))
                model_field.auto_now = model_field.auto_now_add = False
    try:
        yield
    finally:
        for model_field, auto_now, auto_now_add in switched:
            model_field.auto_now, model_field.auto_now_add = auto_now, auto_now_add


class _Writer:
    """Rows buffered per table; ``flush`` writes them by COPY (PostgreSQL) or bulk_create.

    With ``background=True`` each flushed batch is written and committed by a thread
    with its own connection while the next batch is being generated: generating is
    Python's work and COPY plus the foreign-key checks at commit are the database's, so
    on two cores they overlap. Batches are committed in order, one at a time, so a batch
    may refer to rows of any earlier one.
    """

    #: Insertion order (foreign keys are deferred, but keep it readable).
    ORDER: tuple[type[models.Model], ...] = (
        Region,
        Unit,
        User,
        Membership,
        Person,
        PersonPhone,
        SafeContact,
        Case,
        CaseParty,
        Contact,
        WorkOrder,
        WorkOrderClock,
        ClockPause,
        Extension,
        Chase,
        SafetyFollowUp,
        RatingRound,
        Rating,
        ReturnVisitAttempt,
        CaseEvent,
        CaseNumberSequence,
    )

    def __init__(self, *, use_copy: bool, batch_size: int = 1000) -> None:
        self.use_copy = use_copy
        self.batch_size = batch_size
        self.rows: dict[type[models.Model], list[Row]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self._plans: dict[type[models.Model], _CopyPlan] = {}
        self._queue: queue.Queue[tuple[dict[type[models.Model], list[Row]], Callable[[], None]] | None] | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def add(self, model: type[models.Model], row: Row) -> Row:
        self.rows[model].append(row)
        return row

    def flush(self, *, done: Callable[[], None] = lambda: None) -> None:
        """Write the buffered rows (in the background when started so); call ``done`` once they are committed."""
        batch, self.rows = self.rows, defaultdict(list)
        for model, rows in batch.items():
            self.counts[model._meta.model_name or ""] += len(rows)
        if self._queue is None:
            self._write(batch)
            done()
            return
        self._raise_failure()
        self._queue.put((batch, done))

    def start_background(self) -> None:
        self._queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._background, name="bench-data-writer", daemon=True)
        self._thread.start()

    def stop_background(self) -> None:
        """Wait for the last batch; re-raise what went wrong in the thread."""
        if self._queue is not None and self._thread is not None:
            if self._thread.is_alive():
                self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise BenchDataError(f"writing the generated rows failed: {failure}") from failure

    def _background(self) -> None:
        assert self._queue is not None
        try:
            while (item := self._queue.get()) is not None:
                batch, done = item
                with transaction.atomic():
                    self._write(batch)
                done()
        except BaseException as error:  # handed to the main thread, which stops generating
            self._failure = error
            while self._queue.get() is not None:  # let a blocked put() return
                pass
        finally:
            connection.close()

    def _write(self, batch: dict[type[models.Model], list[Row]]) -> None:
        for model in self.ORDER:
            rows = batch.get(model)
            if rows:
                (self._copy if self.use_copy else self._bulk_create)(model, rows)

    def _copy(self, model: type[models.Model], rows: list[Row]) -> None:
        plan = self._plans.get(model) or self._plans.setdefault(model, _CopyPlan(model))
        values_of, base, converters = plan.values_of, plan.base, plan.converters
        with connection.cursor() as cursor, cursor.cursor.copy(plan.statement) as copy:
            for row in rows:
                values = list(values_of(base | row))
                for index, convert in converters:
                    values[index] = convert(values[index])
                copy.write_row(values)

    def _bulk_create(self, model: type[models.Model], rows: list[Row]) -> None:
        with _timestamps_as_given([model]):
            model._default_manager.bulk_create([model(**row) for row in rows], batch_size=self.batch_size)


class _CopyPlan:
    """How the rows of one model become the values of a ``COPY``: column order, defaults, conversions."""

    def __init__(self, model: type[models.Model]) -> None:
        fields = model._meta.concrete_fields
        self.values_of = operator.itemgetter(*(f.attname for f in fields))
        self.base = {f.attname: _default(f) for f in fields}
        self.converters: list[tuple[int, Callable[[Any], Any]]] = []
        for index, model_field in enumerate(fields):
            if isinstance(model_field, EncryptedTextField):
                # The real field encryption, bound to the table and column like every other write.
                self.converters.append((index, functools.partial(_encrypt, context=model_field.encryption_context())))
            elif isinstance(model_field, models.JSONField):
                self.converters.append((index, _json))
        names = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in fields)
        self.statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"


def _advance(bar: tqdm[Any], count: int) -> None:
    bar.update(count)


def _encrypt(value: Any, *, context: str) -> Any:
    # What EncryptedTextField.get_prep_value does (empty stays empty), without its generic TextField steps.
    return crypto.encrypt(str(value), context=context) if value else value


def _json(value: Any) -> str:
    if isinstance(value, str):  # already JSON text (the default of an empty field)
        return value
    return json.dumps(value, ensure_ascii=False)


def _default(model_field: Any) -> Any:
    if isinstance(model_field, models.JSONField):
        return json.dumps(model_field.get_default())
    if model_field.has_default():
        return None if callable(model_field.default) else model_field.default
    if not model_field.null and model_field.empty_strings_allowed:
        return ""  # what Django's get_default gives a text field without a default (fields added by later migrations)
    return None


def _reset_sequences(model_list: Sequence[type[models.Model]]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


# --- the organisation ----------------------------------------------------------------------------


@dataclass
class _Unit:
    pk: int
    name: str
    kind: str
    region_pk: int
    handler: int  # a user who signs for and handles its work orders
    dispatcher: int | None = None


@dataclass
class _Street:
    region_pk: int
    path: str
    name: str
    federation: _Unit
    labour: _Unit
    communities: list[tuple[int, str, str]]  # (region id, path, name)


@dataclass
class _District:
    region_pk: int
    path: str
    name: str
    federation: _Unit
    departments: dict[str, _Unit]
    streets: list[_Street]
    city: _City | None = None


@dataclass
class _City:
    region_pk: int
    path: str
    federation: _Unit
    operators: list[int]
    districts: list[_District]


@dataclass
class _Person:
    pk: int
    name: str
    phone: str


@dataclass
class _Case:
    """A case before its life cycle is played: when, where, what, and whether it is a duplicate."""

    created_at: datetime.datetime
    district: _District
    from_city: bool
    category: str
    pk: int = 0
    number: str = ""
    duplicate_of: _Case | None = None
    duplicate: _Case | None = None
    merged_at: datetime.datetime | None = None
    moved_contact: int = 0
    petitioner: _Person | None = None


@dataclass
class _Order:
    row: Row
    unit: _Unit
    sent_at: datetime.datetime
    status: str = "sent"
    history: list[tuple[datetime.datetime, str]] = field(default_factory=list)


class BenchData:
    """One run of the generator (see the module docstring)."""

    def __init__(
        self,
        *,
        seed: int,
        shape: Shape,
        years: int,
        until: datetime.datetime,
        progress: bool = True,
        use_copy: bool | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.shape = shape
        self.years = years
        self.until = until
        self.progress = progress
        self.ids = _Ids()
        self.writer = _Writer(use_copy=connection.vendor == "postgresql" if use_copy is None else use_copy)
        self.phone_field = _blind(PersonPhone, "phone_index")
        self.contact_phone_field = _blind(Contact, "caller_phone_index")
        self.id_field = _blind(Person, "id_number_index")
        self.surnames = _weighted(SURNAMES)
        self.request_types = _weighted(REQUEST_TYPES)
        self.urgencies = _weighted(URGENCIES)
        self.channels = _weighted(CHANNELS)
        self.top_categories = _weighted(list(CATEGORY_WEIGHTS.items()))
        self.next_phone = FIRST_PHONE
        self.sequences: dict[int, int] = {}
        self.cities: list[_City] = []
        self.districts: list[_District] = []
        self.recent_petitioners: dict[int, list[_Person]] = defaultdict(list)
        self.units_by_pk: dict[int, _Unit] = {}
        self.unit_parent: dict[int, int] = {}
        self.case_orders: list[_Order] = []
        self.unit_level: dict[int, str] = {}
        self.seed = seed
        self.unit_paths: dict[int, str] = {}
        self.safe_contacts: set[int] = set()
        self.calendar = deadlines.calendar_for(_UnitWithoutCalendar())
        self.deadlines: dict[datetime.date, datetime.datetime] = {}
        self.zone = timezone.get_current_timezone()
        with translation.override(settings.LANGUAGE_CODE):
            self.texts = {
                "registered": _("Your request has been registered."),
                "dispatched": _("Your request has been sent to the responsible units."),
                "signed_for": _("A responsible unit has taken on your request."),
                "first_contact": _("The responsible unit has contacted you."),
                "completed": _("The responsible unit has finished its work."),
                "resolved": _("Your request has been resolved."),
                "closed": _("Your request has been closed."),
                "answered": _("Your question has been answered."),
                "merged": _("Your request was joined with another one about the same matter."),
                "sent_to": _("Sent to %(units)s."),
                "forwarded_to": _("Forwarded to %(units)s."),
            }

    # --- the whole run --------------------------------------------------------------------

    def run(self, cases: int, *, chunk: int = DEFAULT_CHUNK) -> Report:
        """Write the organisation, then ``cases`` cases in chunks of ``chunk`` (one transaction each)."""
        started = timezone.now()
        with transaction.atomic():
            self._require_empty()
            self._reference_data()
            self._organisation()
            self.ratings = BenchRatings(self, self.seed)  # writes the return-visit officers
            self.writer.flush()
            self.supervision = BenchSupervision(self, self.seed)
        plan = self._plan(cases)
        # Outside a transaction (the command, not a test) batches are committed in the background.
        background = self.writer.use_copy and not connection.in_atomic_block
        with tqdm(total=len(plan), unit="case", file=sys.stderr, disable=None if self.progress else True, desc="Cases", smoothing=0.05) as bar:
            if background:
                self.writer.start_background()
            try:
                for start in range(0, len(plan), chunk):
                    batch = plan[start : start + chunk]
                    with transaction.atomic():
                        for case in batch:
                            self._case(case)
                        self.writer.flush(done=functools.partial(_advance, bar, len(batch)))
            finally:
                self.writer.stop_background()
        with transaction.atomic():
            self._number_sequences()
            self.writer.flush()
            _reset_sequences(self.writer.ORDER)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in self.writer.ORDER:
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        counts = dict(self.writer.counts)
        counts["cases"] = counts.get("case", 0)
        return Report(counts=counts, seconds=(timezone.now() - started).total_seconds(), method="COPY" if self.writer.use_copy else "bulk_create")

    def _require_empty(self) -> None:
        if Region.objects.filter(code_scheme=CodeScheme.OTHER, level=RegionLevel.PROVINCE, name__startswith="合成省").exists():
            raise BenchDataError("This database already has bench data: generate into a fresh database (rightscare migrate, then bench-data).")

    def _reference_data(self) -> None:
        """Unit kinds, the seed categories (a migration made them) and the responsibility list."""
        from rightscare.org.demo import UNIT_KINDS_FILE

        for entry in json.loads(UNIT_KINDS_FILE.read_text(encoding="utf-8")):
            UnitKind.objects.get_or_create(code=entry["code"], defaults={"name": entry["name"], "name_en": entry["name_en"], "family": entry["family"]})
        UnitKind.objects.get_or_create(
            code="federation-province", defaults={"name": "省妇联", "name_en": "Provincial women's federation", "family": "federation"}
        )
        self.kinds = dict(UnitKind.objects.values_list("code", "pk"))
        if not ResponsibilityRule.objects.filter(valid_until__isnull=True).exists():
            from rightscare.cases.demo import load_rules

            load_rules()
        categories = list(Category.objects.filter(valid_until__isnull=True).values_list("pk", "code", "parent__code"))
        self.category_pk = {code: pk for pk, code, _parent in categories}
        children: dict[str, list[str]] = defaultdict(list)
        for _pk, code, parent in categories:
            if parent:
                children[parent].append(code)
        self.children = {top: sorted(codes) for top, codes in children.items()}
        missing = set(CATEGORY_WEIGHTS) - set(self.children)
        if missing:
            raise BenchDataError(f"categories missing from the taxonomy: {sorted(missing)}")
        self.dv_category = {code for (code,) in Category.objects.filter(valid_until__isnull=True, domestic_violence=True).values_list("code")}
        self.child_category = {code for (code,) in Category.objects.filter(valid_until__isnull=True, child_protection=True).values_list("code")}

    # --- regions, units, users -----------------------------------------------------------------

    def _region(self, *, name: str, name_en: str, level: str, code: str, parent: Row | None) -> Row:
        pk = self.ids(Region)
        path = f"{parent['path'] if parent else '/'}{pk}/"
        at = self.until - datetime.timedelta(days=365 * self.years + 30)
        return self.writer.add(
            Region,
            {
                "id": pk,
                "name": name,
                "name_en": name_en,
                "level": level,
                "code_scheme": CodeScheme.OTHER,
                "code": code,
                "parent_id": parent["id"] if parent else None,
                "path": path,
                "depth": path.count("/") - 2,
                "created_at": at,
                "updated_at": at,
            },
        )

    def _unit(self, *, name: str, name_en: str, kind: str, region: Row, parent: _Unit | None = None) -> _Unit:
        pk = self.ids(Unit)
        parent_path = self.unit_paths[parent.pk] if parent else "/"
        self.unit_paths[pk] = f"{parent_path}{pk}/"
        at = region["created_at"]
        self.writer.add(
            Unit,
            {
                "id": pk,
                "name": name,
                "name_en": name_en,
                "kind_id": self.kinds[kind],
                "region_id": region["id"],
                "parent_id": parent.pk if parent else None,
                "duty_phone": "",
                "is_active": True,
                "path": self.unit_paths[pk],
                "created_at": at,
                "updated_at": at,
            },
        )
        unit = _Unit(pk=pk, name=name, kind=kind, region_pk=region["id"], handler=0)
        self.units_by_pk[pk] = unit
        if parent is not None:
            self.unit_parent[pk] = parent.pk
        self.unit_level[pk] = region["level"]
        return unit

    def _user(self, unit: _Unit, role: str, number: int = 1, *, full_name: str | None = None) -> int:
        pk = self.ids(User)
        if full_name is None:
            female = self.rng.random() < 0.7
            full_name = self._name(female)
        at = self.until - datetime.timedelta(days=365 * self.years + 30)
        self.writer.add(
            User,
            {
                "id": pk,
                "username": f"bench-{unit.pk}-{role}-{number}",
                "full_name": full_name,
                "password": "!bench",  # unusable: nobody logs in as a generated user
                "is_active": True,
                "is_staff": False,
                "is_superuser": False,
                "first_name": "",
                "last_name": "",
                "email": "",
                "date_joined": at,
                "last_login": None,
                "phone": "",
                "phone_index": "",
                "id_number": "",
                "id_number_index": "",
            },
        )
        self.writer.add(
            Membership,
            {
                "id": self.ids(Membership),
                "user_id": pk,
                "unit_id": unit.pk,
                "role": role,
                "granted_by_id": None,
                "revoked_at": None,
                "revoked_by_id": None,
                "created_at": at,
                "updated_at": at,
            },
        )
        return pk

    def _organisation(self) -> None:
        shape = self.shape
        for p in range(shape.provinces):
            pcode = f"{FIRST_SYNTHETIC_PROVINCE + p:02d}"
            province = self._region(
                name=f"合成省{p + 1:02d}", name_en=f"Synthetic Province {p + 1:02d}", level=RegionLevel.PROVINCE, code=pcode + "0" * 10, parent=None
            )
            province_federation = self._unit(
                name=f"{province['name']}妇联", name_en=f"{province['name_en']} Women's Federation", kind="federation-province", region=province
            )
            province_federation.dispatcher = self._user(province_federation, Role.DISPATCHER)
            for c in range(shape.cities):
                ccode = f"{pcode}{c + 1:02d}"
                label = f"{p + 1:02d}{c + 1:02d}"
                city_region = self._region(
                    name=f"合成市{label}", name_en=f"Synthetic City {label}", level=RegionLevel.CITY, code=ccode + "0" * 8, parent=province
                )
                federation = self._unit(
                    name=f"{city_region['name']}妇联",
                    name_en=f"{city_region['name_en']} Women's Federation",
                    kind="federation-city",
                    region=city_region,
                    parent=province_federation,
                )
                federation.dispatcher = self._user(federation, Role.DISPATCHER)
                federation.handler = federation.dispatcher
                operators = [self._user(federation, Role.INTAKE_OPERATOR, n) for n in (1, 2)]
                self._user(federation, Role.SUPERVISOR)
                city = _City(region_pk=city_region["id"], path=city_region["path"], federation=federation, operators=operators, districts=[])
                self.cities.append(city)
                for d in range(shape.districts):
                    city.districts.append(self._district(city, city_region, federation, ccode, f"{label}{d + 1:02d}", d))
                self.districts.extend(city.districts)

    def _district(self, city: _City, city_region: Row, city_federation: _Unit, ccode: str, label: str, d: int) -> _District:
        dcode = f"{ccode}{d + 1:02d}"
        region = self._region(
            name=f"合成区{label}", name_en=f"Synthetic District {label}", level=RegionLevel.DISTRICT, code=dcode + "0" * 6, parent=city_region
        )
        federation = self._unit(
            name=f"{region['name']}妇联", name_en=f"{region['name_en']} Women's Federation", kind="federation-district", region=region, parent=city_federation
        )
        federation.dispatcher = self._user(federation, Role.DISPATCHER)
        federation.handler = self._user(federation, Role.HANDLER)
        departments = {}
        names = {
            "human-resources": "人力资源局",
            "public-security": "公安分局",
            "civil-affairs": "民政局",
            "education": "教育局",
            "justice": "司法局",
            "health": "卫生健康局",
            "hospital": "人民医院",
        }
        for kind in DISTRICT_DEPARTMENTS:
            unit = self._unit(name=f"{region['name']}{names[kind]}", name_en=f"{region['name_en']} {kind}", kind=kind, region=region)
            unit.handler = self._user(unit, Role.HANDLER)
            departments[kind] = unit
        district = _District(
            region_pk=region["id"], path=region["path"], name=region["name"], federation=federation, departments=departments, streets=[], city=city
        )
        for s in range(self.shape.streets):
            scode = f"{dcode}{s + 1:03d}"
            street = self._region(
                name=f"合成街道{label}{s + 1:02d}", name_en=f"Synthetic Street {label}{s + 1:02d}", level=RegionLevel.STREET, code=scode + "000", parent=region
            )
            street_federation = self._unit(
                name=f"{street['name']}妇联", name_en=f"{street['name_en']} Women's Federation", kind="federation-street", region=street, parent=federation
            )
            street_federation.handler = self._user(street_federation, Role.HANDLER)
            labour = self._unit(
                name=f"{street['name']}劳动监察中队",
                name_en=f"{street['name_en']} Labour Inspection",
                kind="labour-inspection",
                region=street,
                parent=departments["human-resources"],
            )
            labour.handler = self._user(labour, Role.HANDLER)
            communities = []
            for m in range(self.shape.communities):
                community = self._region(
                    name=f"合成社区{label}{s + 1:02d}{m + 1:02d}",
                    name_en=f"Synthetic Community {label}{s + 1:02d}{m + 1:02d}",
                    level=RegionLevel.COMMUNITY,
                    code=f"{scode}{m + 1:03d}",
                    parent=street,
                )
                self._unit(
                    name=f"{community['name']}妇联",
                    name_en=f"{community['name_en']} Women's Federation",
                    kind="federation-community",
                    region=community,
                    parent=street_federation,
                )
                committee = self._unit(
                    name=f"{community['name']}居委会", name_en=f"{community['name_en']} Committee", kind="neighbourhood-committee", region=community
                )
                self._user(committee, Role.COMMUNITY_WORKER)
                communities.append((community["id"], community["path"], community["name"]))
            district.streets.append(_Street(street["id"], street["path"], street["name"], street_federation, labour, communities))
        return district

    # --- people -------------------------------------------------------------------------------------

    def _name(self, female: bool) -> str:
        rng = self.rng
        given = FEMALE_GIVEN if female else MALE_GIVEN
        length = 1 if rng.random() < 0.2 else 2
        return _pick(rng, self.surnames) + "".join(rng.choice(given) for _ in range(length))

    def _person(
        self, *, female: bool, age: int, at: datetime.datetime, unit: _Unit, region: int, respondent: bool = False, guardian: _Person | None = None
    ) -> _Person:
        rng = self.rng
        pk = self.ids(Person)
        name = self._name(female)
        born = at.date() - datetime.timedelta(days=age * 365 + rng.randrange(365))
        id_number = ""
        if guardian is not None or rng.random() < 0.45:
            id_number = _id_number(born, female, rng)
        exact = bool(id_number) or guardian is not None or rng.random() < 0.3
        self.writer.add(
            Person,
            {
                "id": pk,
                "public_id": _uuid(rng),
                "name": name,
                "sex": "female" if female else "male",
                "date_of_birth": born if exact else None,
                "approximate_age": None if exact else age,
                "age_recorded_on": None if exact else at.astimezone(self.zone).date(),
                "id_number": id_number,
                "id_number_index": self.id_field.digest(id_number) if id_number else "",
                "guardian_id": guardian.pk if guardian else None,
                "guardian_is_alleged_abuser": False,
                "address_region_id": region if rng.random() < 0.5 else None,
                "address": f"某小区{rng.randrange(1, 40)}栋{rng.randrange(101, 2999)}室" if rng.random() < 0.5 else "",
                "address_confidential": False,
                "recorded_by_unit_id": unit.pk,
                "created_at": at,
                "updated_at": at,
            },
        )
        phone = ""
        if guardian is None:
            phone = self._phone()
            self.writer.add(
                PersonPhone,
                {
                    "id": self.ids(PersonPhone),
                    "person_id": pk,
                    "phone": phone,
                    "phone_index": self.phone_field.digest(phone),
                    "shared": rng.random() < 0.05,
                    "respondent_flag": respondent,
                    "created_at": at,
                },
            )
        return _Person(pk=pk, name=name, phone=phone)

    def _phone(self) -> str:
        number = self.next_phone
        self.next_phone += 1
        return f"+86{number}"

    # --- cases ----------------------------------------------------------------------------------------

    def _plan(self, count: int) -> list[_Case]:
        """When and where each case comes in, in time order, with its number; duplicates next to their original."""
        rng = self.rng
        start = self.until - datetime.timedelta(days=365 * self.years)
        span = (self.until - start).total_seconds()
        district_weights = _weighted([(district, 0.5 + rng.random()) for district in self.districts])
        plan: list[_Case] = []
        while len(plan) < count:
            # Volume grows over the years (more people know the hotline): density ∝ 1 + x.
            x = (-1 + (1 + 3 * rng.random()) ** 0.5) if rng.random() < 0.999 else rng.random()
            moment = start + datetime.timedelta(seconds=x * span)
            moment = _office_hours(moment, rng, self.zone)
            if moment >= self.until:
                continue
            case = _Case(created_at=moment, district=_pick(rng, district_weights), from_city=rng.random() < 0.3, category=_pick(rng, self.top_categories))
            plan.append(case)
            if rng.random() < DUPLICATES and len(plan) < count:
                duplicate = _Case(
                    created_at=moment + datetime.timedelta(hours=rng.uniform(1, 48)), district=case.district, from_city=case.from_city, category=case.category
                )
                if duplicate.created_at < self.until:
                    duplicate.duplicate_of, case.duplicate = case, duplicate
                    duplicate.merged_at = duplicate.created_at + datetime.timedelta(hours=rng.uniform(4, 60))
                    plan.append(duplicate)
        plan.sort(key=lambda case: case.created_at)
        prefix = getattr(settings, "CASE_NUMBER_PREFIX", "SZ")
        for case in plan:
            case.pk = self.ids(Case)
            year = case.created_at.astimezone(self.zone).year
            if year not in self.sequences:
                self.sequences[year] = numbering.last_allocated(prefix, year)
            self.sequences[year] += 1
            case.number = f"{prefix}-{year}-{self.sequences[year]:06d}"
        return plan

    def _number_sequences(self) -> None:
        prefix = getattr(settings, "CASE_NUMBER_PREFIX", "SZ")
        for year, last in sorted(self.sequences.items()):
            numbering.set_last(prefix, year, last)

    def _case(self, plan: _Case) -> None:
        rng = self.rng
        self.case_orders = []
        district = plan.district
        street: _Street | None = rng.choice(district.streets)
        where = rng.random()
        if where < 0.55 and street is not None:
            region_pk, _path, region_name = rng.choice(street.communities)
        elif where < 0.9 and street is not None:
            region_pk, region_name = street.region_pk, street.name
        else:
            # Only the district is known: no street team can be chosen.
            region_pk, region_name, street = district.region_pk, district.name, None
        top = plan.category
        category = rng.choice(self.children[top])
        request_type = _pick(rng, self.request_types)
        if plan.duplicate_of is not None:
            request_type = "help"
            category = plan.duplicate_of.category
        plan.category = category
        urgency = _pick(rng, self.urgencies)
        if category in self.dv_category and urgency == "normal" and rng.random() < 0.3:
            urgency = "urgent"
        city = district.city
        assert city is not None
        if plan.from_city:
            registering, registered_by = city.federation, rng.choice(city.operators)
        else:
            registering, registered_by = district.federation, district.federation.dispatcher or district.federation.handler
        at = plan.created_at
        events: list[tuple[datetime.datetime, int, Row]] = []
        sequence = itertools.count()

        def event(when: datetime.datetime, kind: str, **fields: Any) -> None:
            fields.setdefault("visibility", "handling")
            events.append((when, next(sequence), {"kind": kind, **fields}))

        # Who asked: a returning petitioner now and then, else a new person.
        petitioner: _Person | None = None
        pool = self.recent_petitioners[district.region_pk]
        if plan.duplicate_of is not None and plan.duplicate_of.petitioner is not None:
            petitioner = plan.duplicate_of.petitioner
        elif pool and rng.random() < 0.12:
            petitioner = rng.choice(pool)
        elif rng.random() < 0.93:
            petitioner = self._person(female=rng.random() < 0.88, age=rng.randrange(18, 75), at=at, unit=registering, region=region_pk)
            pool.append(petitioner)
            if len(pool) > 200:
                pool.pop(0)
        plan.petitioner = petitioner
        accused = None
        if request_type == "accusation":
            accused = rng.choice([district.departments["human-resources"], district.departments["public-security"], *([street.federation] if street else [])])

        channel = _pick(rng, self.channels)
        summary = rng.choice(SUMMARIES[top])
        case = self.writer.add(
            Case,
            {
                "id": plan.pk,
                "public_id": _uuid(rng),
                "number": plan.number,
                "request_type": request_type,
                "category_id": self.category_pk[category],
                "urgency": urgency,
                "status": "registered",
                "summary": summary,
                "petitioner_id": petitioner.pk if petitioner else None,
                "region_id": region_pk,
                "address": f"{region_name}某小区{rng.randrange(1, 40)}栋",
                "location_confidential": category in self.dv_category and rng.random() < 0.2,
                "registering_unit_id": registering.pk,
                "registered_by_id": registered_by,
                "accused_unit_id": accused.pk if accused else None,
                "reporting_institution_id": district.departments["hospital"].pk if channel == "referral" else None,
                "police_notified": False,
                "police_incident_number": "",
                "reply": "",
                "not_accepted_reason": "",
                "merged_into_id": None,
                "resolved_at": None,
                "closed_at": None,
                "version": 0,
                "created_at": at,
                "updated_at": at,
            },
        )
        event(at, "registered", actor_id=registered_by, unit_id=registering.pk, visibility="public", public_text=self.texts["registered"])
        self._parties(case, plan, petitioner, top, category, at, registering, region_pk)

        # The call or visit that brought it in.
        contact_at = at - datetime.timedelta(minutes=rng.randrange(2, 15))
        contact_pk = plan.moved_contact or self.ids(Contact)
        contact_case = plan.duplicate_of.pk if plan.duplicate_of is not None and plan.merged_at and plan.merged_at <= self.until else plan.pk
        answered = request_type == "consultation" and rng.random() < ANSWERED_ON_THE_SPOT
        self._contact(
            contact_pk, contact_at, registered_by, registering, petitioner, channel, contact_case, "answered" if answered else "new_case", summary, at
        )
        event(at + datetime.timedelta(seconds=30), "contact", actor_id=registered_by, unit_id=registering.pk, data={"contact": contact_pk, "channel": channel})
        if plan.duplicate is not None:
            # Reserve the duplicate's contact id now: the merge event here names it.
            plan.duplicate.moved_contact = self.ids(Contact)
            if plan.duplicate.merged_at and plan.duplicate.merged_at <= self.until:
                event(
                    plan.duplicate.merged_at,
                    "merged",
                    actor_id=registering.dispatcher or registered_by,
                    unit_id=registering.pk,
                    data={"from": plan.duplicate.pk, "contacts": [plan.duplicate.moved_contact]},
                )

        if answered:
            done = at + datetime.timedelta(minutes=rng.randrange(3, 20))
            reply = "已解答相关法律问题。"
            event(done, "answered", actor_id=registered_by, unit_id=registering.pk, text=reply, public_text=self.texts["answered"], visibility="public")
            case.update(status="answered", reply=reply, closed_at=done, updated_at=done, version=1)
        elif plan.duplicate_of is not None:
            if plan.merged_at and plan.merged_at <= self.until:
                dispatcher = registering.dispatcher or registered_by
                event(
                    plan.merged_at,
                    "merged",
                    actor_id=dispatcher,
                    unit_id=registering.pk,
                    data={"into": plan.duplicate_of.pk, "contacts": [contact_pk]},
                    public_text=self.texts["merged"],
                    visibility="public",
                )
                case.update(status="merged", merged_into_id=plan.duplicate_of.pk, updated_at=plan.merged_at, version=1)
        elif rng.random() < NOT_ACCEPTED:
            done = at + datetime.timedelta(hours=rng.uniform(2, 40))
            if done <= self.until:
                reason = "不属于妇联受理范围，已告知向相关部门反映。"
                event(
                    done,
                    "not_accepted",
                    actor_id=registering.dispatcher or registered_by,
                    unit_id=registering.pk,
                    text=reason,
                    public_text=reason,
                    visibility="public",
                )
                case.update(status="not_accepted", not_accepted_reason=reason, closed_at=done, updated_at=done, version=1)
        else:
            self._handle(case, plan, district, street, registering, top, category, accused, urgency, channel, event)
        for when, _order, row in sorted(events, key=lambda item: (item[0], item[1])):
            row.update(id=self.ids(CaseEvent), case_id=plan.pk, at=when)
            row.setdefault("actor_id", None)
            row.setdefault("unit_id", None)
            row.setdefault("work_order_id", None)
            row.setdefault("text", "")
            row.setdefault("public_text", "")
            row.setdefault("data", {})
            self.writer.add(CaseEvent, row)

    def _parties(self, case: Row, plan: _Case, petitioner: _Person | None, top: str, category: str, at: datetime.datetime, unit: _Unit, region: int) -> None:
        rng = self.rng

        def party(role: str, person: _Person | None = None, organisation: str = "", confidential: bool = False) -> None:
            self.writer.add(
                CaseParty,
                {
                    "id": self.ids(CaseParty),
                    "case_id": case["id"],
                    "role": role,
                    "person_id": person.pk if person else None,
                    "organisation_name": organisation,
                    "confidential": confidential,
                },
            )

        if petitioner is not None:
            party("petitioner", petitioner)
        if top == "employment":
            party("respondent", organisation=f"某{rng.choice(('电子', '服装', '物流', '餐饮', '科技', '玩具'))}有限公司")
        elif category in self.dv_category and rng.random() < 0.45:
            # The respondent's phone is flagged: calls from it show nothing of her cases.
            party("respondent", self._person(female=False, age=rng.randrange(25, 70), at=at, unit=unit, region=region, respondent=True))
        if category in self.child_category and petitioner is not None:
            party("victim", self._person(female=rng.random() < 0.6, age=rng.randrange(3, 17), at=at, unit=unit, region=region, guardian=petitioner))
        if category in self.dv_category and petitioner is not None and petitioner.pk not in self.safe_contacts and rng.random() < 0.5:
            # Domestic violence: no text messages, calls only in office hours, a neutral sender.
            self.safe_contacts.add(petitioner.pk)
            self.writer.add(
                SafeContact,
                {
                    "id": self.ids(SafeContact),
                    "person_id": petitioner.pk,
                    "may_call": True,
                    "may_text": False,
                    "may_leave_voicemail": False,
                    "safe_from": datetime.time(9, 0),
                    "safe_until": datetime.time(17, 0),
                    "code_word": "",
                    "neutral_sender": "社区服务",
                    "created_at": at,
                    "updated_at": at,
                },
            )

    def _contact(
        self,
        pk: int,
        at: datetime.datetime,
        operator: int,
        unit: _Unit,
        caller: _Person | None,
        channel: str,
        case_pk: int,
        outcome: str,
        content: str,
        recorded: datetime.datetime,
    ) -> None:
        phone = caller.phone if caller is not None and channel in {"hotline", "platform_12345"} else ""
        self.writer.add(
            Contact,
            {
                "id": pk,
                "public_id": _uuid(self.rng),
                "channel": channel,
                "occurred_at": at,
                "operator_id": operator,
                "unit_id": unit.pk,
                "caller_id": caller.pk if caller else None,
                "caller_phone": phone,
                "caller_phone_index": self.contact_phone_field.digest(phone) if phone else "",
                "content": content,
                "outcome": outcome,
                "case_id": case_pk,
                "external_ticket_number": f"12345-{at:%Y%m%d}-{pk:07d}" if channel == "platform_12345" else "",
                "external_deadline": at + datetime.timedelta(days=5) if channel == "platform_12345" else None,
                "created_at": recorded,
                "updated_at": recorded,
            },
        )

    # --- the life cycle of a dispatched case ---------------------------------------------------

    def _targets(
        self, *, level: str, district: _District, street: _Street | None, top: str, category: str, accused: _Unit | None
    ) -> tuple[_Unit, list[_Unit], str]:
        """Lead, co-handlers and time class for a dispatcher at ``level`` (the responsibility list, as ``suggest_dispatch``)."""
        if level == "city":
            return district.federation, [], "standard"
        rule = DV_WITH_CHILDREN if category == "dv-with-children" else DISTRICT_RULES.get(top)
        if rule is None:
            lead = street.federation if street is not None else district.federation
            return (district.federation if lead is accused else lead), [], "standard"
        lead_kind, cohandler_kinds, time_class = rule
        lead = district.federation if lead_kind == "federation-district" else district.departments[lead_kind]
        if lead is accused:
            lead = district.federation
        cohandlers = []
        for kind in cohandler_kinds:
            unit = (street.labour if street is not None else None) if kind == "labour-inspection" else district.departments.get(kind)
            if unit is not None and unit is not accused and unit is not lead:
                cohandlers.append(unit)
        return lead, cohandlers, time_class

    def _handle(
        self,
        case: Row,
        plan: _Case,
        district: _District,
        street: _Street | None,
        registering: _Unit,
        top: str,
        category: str,
        accused: _Unit | None,
        urgency: str,
        channel: str,
        event: Callable[..., None],
    ) -> None:
        rng = self.rng
        until = self.until
        level = "city" if registering is not district.federation else "district"
        dispatcher = registering.dispatcher or registering.handler
        legal_basis = "emergency" if urgency == "emergency" else "statutory" if channel == "referral" or category in self.child_category else "consent"
        slow = 5.0 if rng.random() < STALLED else 1.0
        dispatch_at = plan.created_at + datetime.timedelta(hours=rng.uniform(0.2, 20) * slow)
        if dispatch_at > until:
            return
        lead, cohandlers, time_class = self._targets(level=level, district=district, street=street, top=top, category=category, accused=accused)
        top_orders: list[_Order] = []

        def dispatch(when: datetime.datetime, lead: _Unit, cohandlers: list[_Unit]) -> list[_Order]:
            orders = [
                self._order(case, unit, role, when, registering, dispatcher, None, time_class, legal_basis)
                for unit, role in [(lead, "lead"), *((u, "cohandler") for u in cohandlers)]
            ]
            event(
                when,
                "dispatched",
                actor_id=dispatcher,
                unit_id=registering.pk,
                text=self.texts["sent_to"] % {"units": "、".join(o.unit.name for o in orders)},
                public_text=self.texts["dispatched"],
                visibility="public",
                data={"work_orders": [o.row["id"] for o in orders], "legal_basis": legal_basis},
            )
            top_orders.extend(orders)
            return orders

        orders = dispatch(dispatch_at, lead, cohandlers)
        if rng.random() < RETURNED and lead is not district.federation:
            # The lead returns it within the window; the dispatcher rules and sends it elsewhere.
            first = orders[0]
            returned_at = first.sent_at + datetime.timedelta(hours=rng.uniform(0.5, 6))
            if returned_at <= until and returned_at < first.row["return_deadline"]:
                self._move(first, returned_at, "returned", returned_at=returned_at, return_reason="不属于本单位职责。")
                event(returned_at, "returned", actor_id=first.unit.handler, unit_id=first.unit.pk, work_order_id=first.row["id"], text="不属于本单位职责。")
                ruled_at = returned_at + datetime.timedelta(hours=rng.uniform(1, 30))
                if ruled_at <= until:
                    ruling = "justified" if rng.random() < 0.7 else "unjustified"
                    first.row.update(return_ruling=ruling, return_ruled_at=ruled_at, version=first.row["version"] + 1, updated_at=ruled_at)
                    event(ruled_at, "return_ruled", actor_id=dispatcher, unit_id=registering.pk, work_order_id=first.row["id"], data={"ruling": ruling})
                    again = ruled_at + datetime.timedelta(minutes=rng.uniform(5, 120))
                    if again <= until:
                        # The district federation takes the lead itself (it is never the accused unit).
                        dispatch(again, district.federation, [])
        for order in list(top_orders):
            if order.status == "sent":
                self._work(order, case, district, street, top, category, accused, time_class, legal_basis, event, slow)
        # The case's status follows its top-level orders; when all are accepted it is resolved, then closed.
        resolved_at = self._case_status(case, top_orders, event)
        for order in self.case_orders:
            self.supervision.work_order(order, case, event)
        if resolved_at is not None:
            closed_at: datetime.datetime | None = resolved_at + datetime.timedelta(days=rng.uniform(1, 10))
            followed_up = category in self.dv_category or category in self.child_category
            ended_at = None
            if followed_up:
                # Domestic violence, child protection: followed up for her safety; closed only once that ends.
                ended_at = self.supervision.follow_up(case, registering, resolved_at, event)
                closed_at = None if ended_at is None or closed_at is None else max(closed_at, ended_at + datetime.timedelta(hours=2))
            # The rating round opened at the resolution; a petitioner never reached closes the case first.
            assert district.city is not None
            closed_at = self.ratings.case_resolved(
                case, district.city.federation.pk, resolved_at, closes_at=closed_at, followed_up=followed_up, follow_up_ends=ended_at, event=event
            )
            if closed_at is not None and closed_at <= until:
                event(closed_at, "closed", actor_id=dispatcher, unit_id=registering.pk, public_text=self.texts["closed"], visibility="public")
                case.update(status="closed", closed_at=closed_at, updated_at=closed_at, version=case["version"] + 1)

    def _order(
        self,
        case: Row,
        unit: _Unit,
        role: str,
        when: datetime.datetime,
        sent_by_unit: _Unit,
        sent_by: int,
        parent: _Order | None,
        time_class: str,
        legal_basis: str,
    ) -> _Order:
        row = self.writer.add(
            WorkOrder,
            {
                "id": self.ids(WorkOrder),
                "public_id": _uuid(self.rng),
                "case_id": case["id"],
                "unit_id": unit.pk,
                "role": role,
                "status": "sent",
                "time_class": time_class,
                "legal_basis": legal_basis,
                "sent_by_unit_id": sent_by_unit.pk,
                "sent_by_id": sent_by,
                "parent_id": parent.row["id"] if parent else None,
                "instructions": "",
                "signed_at": None,
                "signed_by_id": None,
                "first_contact_at": None,
                "first_note_at": None,
                "completed_at": None,
                "result": "",
                "outcome_codes": [],
                "amount_yuan": None,
                "reviewed_at": None,
                "review_comment": "",
                "returned_at": None,
                "return_reason": "",
                "return_ruling": "",
                "return_ruled_at": None,
                "return_deadline": self._return_deadline(when),
                "version": 0,
                "created_at": when,
                "updated_at": when,
            },
        )
        order = _Order(row=row, unit=unit, sent_at=when)
        order.history.append((when, "sent"))
        self.case_orders.append(order)
        return order

    def _move(self, order: _Order, when: datetime.datetime, status: str, **changes: Any) -> None:
        order.status = status
        order.history.append((when, status))
        order.row.update(status=status, version=order.row["version"] + 1, updated_at=when, **changes)

    def _work(
        self,
        order: _Order,
        case: Row,
        district: _District,
        street: _Street | None,
        top: str,
        category: str,
        accused: _Unit | None,
        time_class: str,
        legal_basis: str,
        event: Callable[..., None],
        slow: float,
    ) -> datetime.datetime | None:
        """Play one work order (and what it forwards) up to ``until``; return when its result was accepted."""
        rng = self.rng
        until = self.until
        unit, pk = order.unit, order.row["id"]
        handler = unit.handler
        # Some work orders are left lying at one stage: the overdue backlog every inbox has.
        left_at = rng.choice(("sent", "signed", "in_progress")) if rng.random() < ABANDONED else None
        signed = order.sent_at + datetime.timedelta(hours=rng.uniform(0.3, 30) * slow)
        if signed > until or left_at == "sent":
            return None
        self._move(order, signed, "signed", signed_at=signed, signed_by_id=handler)
        event(signed, "signed_for", actor_id=handler, unit_id=unit.pk, work_order_id=pk, public_text=self.texts["signed_for"], visibility="public")
        children: list[_Order] = []
        if unit is district.federation and order.row["parent_id"] is None and order.row["sent_by_unit_id"] != unit.pk:
            # A district federation sent the case from above forwards it down on its own list.
            lead, cohandlers, child_class = self._targets(level="district", district=district, street=street, top=top, category=category, accused=accused)
            targets = [(lead, "lead")] if lead is not unit else []
            targets += [(u, "cohandler") for u in cohandlers]
            forwarded = signed + datetime.timedelta(hours=rng.uniform(0.2, 8))
            if targets and forwarded <= until:
                children = [self._order(case, target, role, forwarded, unit, handler, order, child_class, legal_basis) for target, role in targets]
                event(
                    forwarded,
                    "forwarded",
                    actor_id=handler,
                    unit_id=unit.pk,
                    work_order_id=pk,
                    text=self.texts["forwarded_to"] % {"units": "、".join(c.unit.name for c in children)},
                    data={"work_orders": [c.row["id"] for c in children]},
                )
        contacted = signed + datetime.timedelta(hours=rng.uniform(1, 72) * slow)
        if contacted > until or left_at == "signed":
            self._run_children(children, case, district, street, top, category, accused, legal_basis, event, slow)
            return None
        note = rng.choice(NOTES)
        self._move(order, contacted, "in_progress", first_contact_at=contacted, first_note_at=contacted)
        event(contacted, "first_contact", actor_id=handler, unit_id=unit.pk, work_order_id=pk, text=note, public_text=self.texts["first_contact"])
        children_done = self._run_children(children, case, district, street, top, category, accused, legal_basis, event, slow)
        if left_at == "in_progress":
            return None
        days = (rng.uniform(4, 30) if time_class == "complex" else rng.uniform(2, 14)) * slow
        completed = contacted + datetime.timedelta(days=days)
        if children:
            if children_done is None:
                return None
            completed = max(completed, children_done + datetime.timedelta(hours=rng.uniform(1, 48)))
        for _note in range(rng.choice((0, 0, 1, 1, 2))):
            noted = contacted + (completed - contacted) * rng.random()
            if noted <= until:
                visibility = rng.choice(("handling", "handling", "unit", "public"))
                text = rng.choice(NOTES)
                event(
                    noted,
                    "note",
                    actor_id=handler,
                    unit_id=unit.pk,
                    work_order_id=pk,
                    text=text,
                    visibility=visibility,
                    public_text=text if visibility == "public" else "",
                )
        # A top-level order is reviewed by its dispatcher; a forwarded one by a handler of the unit that forwarded it.
        reviewer = order.row["sent_by_id"] if order.row["parent_id"] is None else self.units_by_pk[order.row["sent_by_unit_id"]].handler
        for attempt in range(2):
            if completed > until:
                return None
            result = rng.choice(RESULTS)
            amount = Decimal(rng.randrange(2, 300) * 1000) if top == "employment" and order.row["role"] == "lead" and rng.random() < 0.4 else None
            self._move(order, completed, "completed", completed_at=completed, result=result, outcome_codes=["mediated"], amount_yuan=amount)
            event(
                completed,
                "completed",
                actor_id=handler,
                unit_id=unit.pk,
                work_order_id=pk,
                text=result,
                public_text=self.texts["completed"],
                visibility="public",
            )
            reviewed = completed + datetime.timedelta(hours=rng.uniform(2, 72) * slow)
            if reviewed > until:
                return None
            if attempt == 0 and rng.random() < SENT_BACK:
                comment = "请补充证明材料。"
                self._move(order, reviewed, "in_progress", reviewed_at=reviewed, review_comment=comment)
                event(reviewed, "sent_back", actor_id=reviewer, unit_id=order.row["sent_by_unit_id"], work_order_id=pk, text=comment)
                completed = reviewed + datetime.timedelta(days=rng.uniform(1, 8))
                continue
            self._move(order, reviewed, "accepted", reviewed_at=reviewed, review_comment="")
            event(reviewed, "accepted", actor_id=reviewer, unit_id=order.row["sent_by_unit_id"], work_order_id=pk)
            return reviewed
        return None

    def _run_children(
        self,
        children: list[_Order],
        case: Row,
        district: _District,
        street: _Street | None,
        top: str,
        category: str,
        accused: _Unit | None,
        legal_basis: str,
        event: Callable[..., None],
        slow: float,
    ) -> datetime.datetime | None:
        """Play the forwarded orders; return when the last was accepted (None while any is open)."""
        done: list[datetime.datetime | None] = []
        for child in children:
            done.append(self._work(child, case, district, street, top, category, accused, child.row["time_class"], legal_basis, event, slow))
        if any(when is None for when in done):
            return None
        return max((when for when in done if when is not None), default=None)

    def _case_status(self, case: Row, top_orders: list[_Order], event: Callable[..., None]) -> datetime.datetime | None:
        """Replay the top-level orders' history into the case's status, version and resolution."""
        moments = sorted({when for order in top_orders for when, _status in order.history})
        status, version, resolved_at, changed = "registered", 0, None, case["created_at"]
        for moment in moments:
            current = [next(s for w, s in reversed(order.history) if w <= moment) for order in top_orders if order.history[0][0] <= moment]
            live = [s for s in current if s not in {"returned", "transferred"}]
            if not live:
                new = "registered"
            elif all(s == "accepted" for s in live):
                new = "resolved"
            elif all(s == "sent" for s in live):
                new = "dispatched"
            else:
                new = "in_progress"
            if new != status:
                status, version, changed = new, version + 1, moment
                resolved_at = moment if new == "resolved" else None
        if resolved_at is not None:
            event(resolved_at, "resolved", public_text=self.texts["resolved"], visibility="public")
        case.update(status=status, version=version, resolved_at=resolved_at, updated_at=max(changed, case["updated_at"]))
        return resolved_at

    def _return_deadline(self, sent_at: datetime.datetime) -> datetime.datetime:
        """Two working days on the calendar every synthetic region inherits (the national one).

        The deadline depends only on the day the order was sent (it counts from the end of that day).
        """
        day = sent_at.astimezone(self.calendar.zone).date()
        if day not in self.deadlines:
            self.deadlines[day] = workcalendar.add_working_days(self.calendar, sent_at, deadlines.RETURN_WINDOW_WORKING_DAYS).instant
        return self.deadlines[day]


class _UnitWithoutCalendar:
    """A stand-in for a unit whose region has no calendar of its own: it works on the national one."""

    region = None


class BenchDataError(Exception):
    """The generator cannot run here (a database that already has bench data, a missing taxonomy)."""


def _blind(model: type[models.Model], name: str) -> BlindIndexField:
    model_field = model._meta.get_field(name)
    assert isinstance(model_field, BlindIndexField)
    return model_field


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@functools.cache
def _birth_place(year: int) -> str:
    """The first birth-place code in use in ``year`` (build_id_number decides)."""
    for code in BIRTH_PLACES:
        try:
            identity.build_id_number(birth_place=code, birth_date=datetime.date(year, 6, 1), sequence=0)
        except ValueError:
            continue
        return code
    raise BenchDataError(f"no birth-place code of the bench list was in use in {year}")


def _id_number(born: datetime.date, female: bool, rng: random.Random) -> str:
    # Odd sequence for men, even for women, as on real cards. The birth place was checked for
    # the year by build_id_number (``_birth_place``); the rest is the same layout and check digit.
    sequence = rng.randrange(0, 500) * 2 + (0 if female else 1)
    return identity.build_unchecked_id_number(birth_place=_birth_place(born.year), birth_date=born, sequence=sequence)


def _office_hours(moment: datetime.datetime, rng: random.Random, zone: datetime.tzinfo) -> datetime.datetime:
    """Most contacts come in on working days between 8:30 and 18:00 (local time); some at night."""
    local = moment.astimezone(zone)
    if rng.random() < 0.85:
        if local.weekday() >= 5 and rng.random() < 0.7:
            local -= datetime.timedelta(days=local.weekday() - 4)
        local = local.replace(hour=8, minute=30, second=0, microsecond=0) + datetime.timedelta(seconds=rng.uniform(0, 9.5 * 3600))
    return local.astimezone(datetime.UTC)


def generate(
    *,
    cases: int,
    seed: int = 1,
    shape: Shape | None = None,
    years: int = 5,
    until: datetime.datetime | None = None,
    chunk: int = DEFAULT_CHUNK,
    progress: bool = True,
    use_copy: bool | None = None,
) -> Report:
    """Generate the organisation and ``cases`` cases (see the module docstring); the same seed and end give the same data.

    ``until`` is when the simulated history ends (default: the start of today, local
    time); cases come in over the ``years`` before it.
    """
    if until is None:
        until = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    bench = BenchData(seed=seed, shape=shape or Shape(), years=years, until=until, progress=progress, use_copy=use_copy)
    return bench.run(cases, chunk=chunk)
