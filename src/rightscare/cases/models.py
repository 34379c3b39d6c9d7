"""Cases, the category taxonomy, the responsibility list, work orders and the timeline (PRODUCT.md C2, C3).

A case (诉求件) gathers the contacts about one matter. Dispatch turns it into work
orders, one per unit, each lead (主办) or co-handler (协办). The case's status is
derived from its work orders (see ``services.refresh_case_status``); a work
order's status moves only along ``WORK_ORDER_TRANSITIONS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import Exists, OuterRef, Q, lookups
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import EncryptedTextField
from rightscare.core.models import PublicIdModel, TimeStampedModel
from rightscare.org import access
from rightscare.org.divisions import RegionLevel
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability


class RequestType(models.TextChoices):
    HELP = "help", _("Request for help")
    CONSULTATION = "consultation", _("Consultation")
    COMPLAINT = "complaint", _("Complaint or appeal")
    SUGGESTION = "suggestion", _("Suggestion")
    ACCUSATION = "accusation", _("Report or accusation")


class Urgency(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    URGENT = "urgent", _("Urgent")
    NORMAL = "normal", _("Normal")


class TimeClass(models.TextChoices):
    STANDARD = "standard", _("Standard")
    COMPLEX = "complex", _("Complex")
    LETTERS_AND_VISITS = "letters_visits", _("Letters and visits")


class Category(TimeStampedModel):
    """One node of the two-level taxonomy of rights cases.

    Versioned: changing what a category means closes the old row (``valid_until``)
    and opens a new one with the same code, so every case keeps the category it
    was filed under.
    """

    code = models.SlugField(_("code"), max_length=60)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    parent = models.ForeignKey("self", verbose_name=_("parent category"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    domestic_violence = models.BooleanField(_("domestic violence"), default=False)
    child_protection = models.BooleanField(_("child protection"), default=False)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "code"]
        constraints = [models.UniqueConstraint(fields=["code"], condition=Q(valid_until__isnull=True), name="category_current_code_unique")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name

    @property
    def is_sensitive(self) -> bool:
        """Domestic violence and child protection: no text messages unless she said so, police prompted."""
        return self.domestic_violence or self.child_protection


class ResponsibilityRule(TimeStampedModel):
    """One line of the responsibility list (职责清单): who leads and who co-handles a category.

    Keyed by the level of the dispatching unit's region (and optionally that region);
    a rule for a category covers its sub-categories unless they have their own.
    """

    dispatch_level = models.CharField(_("dispatching level"), max_length=16, choices=RegionLevel.choices)
    region = models.ForeignKey("org.Region", verbose_name=_("only in region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="rules")
    lead_kind = models.ForeignKey("org.UnitKind", verbose_name=_("lead unit kind"), on_delete=models.PROTECT, related_name="+")
    cohandler_kinds = models.ManyToManyField("org.UnitKind", verbose_name=_("co-handling unit kinds"), blank=True, related_name="+")
    time_class = models.CharField(_("time class"), max_length=16, choices=TimeClass.choices, default=TimeClass.STANDARD)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("responsibility rule")
        verbose_name_plural = _("responsibility list")
        ordering = ["dispatch_level", "category__sort_order"]

    def __str__(self) -> str:
        return f"{self.get_dispatch_level_display()} · {self.category} → {self.lead_kind}"


class CaseStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    ANSWERED = "answered", _("Answered directly")
    MERGED = "merged", _("Merged")
    NOT_ACCEPTED = "not_accepted", _("Not accepted")


#: Statuses in which nothing more happens to a case.
FINAL_CASE_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.ANSWERED, CaseStatus.MERGED, CaseStatus.NOT_ACCEPTED})


class OneOf(lookups.In):
    """``column IN (subquery)``, written ``column = ANY(ARRAY(subquery))`` on PostgreSQL.

    Both mean the same; use it as ``queryset.filter(OneOf(F("pk"), ids))``. The second
    form makes PostgreSQL compute the subquery once and fetch the rows it names through
    the column's index: it takes an array of unknown length for a few elements. Given
    ``IN (subquery)``, it estimates the subquery's rows from statistics and, for a
    district's few thousand cases out of hundreds of thousands, prefers to read the
    whole case table and hash it against them (several times slower at 300,000 cases;
    see bench/results/2026-11-29-scoped-lists.md). Only for subqueries of modest size:
    the ids are held in memory as one array.
    """

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} = ANY(ARRAY{rhs_sql})", [*lhs_params, *rhs_params]


class AmongIds(lookups.Lookup):
    """``column = ANY(%s::bigint[])`` with a list of ids gathered beforehand, as one array parameter.

    For a scope read once and tested by many queries of one request (the assessment and
    the dashboard): PostgreSQL sees a constant array of known length, plans with it, and
    tests rows against it through a hash table. PostgreSQL only; elsewhere use ``OneOf``
    with the subquery itself.
    """

    lookup_name = "among_ids"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        ids = self.rhs if isinstance(self.rhs, IdArray) else IdArray(self.rhs)
        return f"{lhs_sql} = ANY(%s::bigint[])", (*lhs_params, ids.literal)


class IdArray:
    """Ids for ``AmongIds``, written out as one PostgreSQL array literal (``{1,2,3}``) once, however many queries use them.

    psycopg adapts a Python list of integers element by element in Python: for a city's
    65,000 case ids, 40 ms each of the dozen queries of a dashboard. The literal is one
    string, made once and quoted by libpq.
    """

    __slots__ = ("_literal", "ids")

    def __init__(self, ids: Any) -> None:
        self.ids = [int(pk) for pk in ids]
        self._literal: str | None = None

    @property
    def literal(self) -> str:
        if self._literal is None:
            self._literal = "{" + ",".join(map(str, self.ids)) + "}"
        return self._literal

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Any:
        return iter(self.ids)


def _reach(scope: Any) -> models.QuerySet[Any, Any]:
    """The ids of the cases her scope reaches, each way read from its own index alone, as one UNION (accusations not yet taken out)."""
    branches: list[models.QuerySet[Any, Any]] = []
    # Her region and unit subtrees as ids first (region_id = ANY(ARRAY(…))): given a join to
    # the regions or units instead, PostgreSQL misjudges a subtree's size and may read every
    # work order there is (seen at 100,000 cases) or every case.
    if scope.region_paths:
        regions = Region.objects.filter(access.path_prefix_q("path", scope.region_paths)).order_by().values("pk")
        branches.append(Case.objects.filter(OneOf(models.F("region_id"), regions)).order_by().values("pk"))
    if scope.unit_paths:
        units = Unit.objects.filter(access.path_prefix_q("path", scope.unit_paths)).order_by().values("pk")
        branches.append(WorkOrder.objects.filter(OneOf(models.F("unit_id"), units)).order_by().values("case_id"))
    if scope.unit_ids:
        branches.append(Case.objects.filter(registering_unit_id__in=scope.unit_ids).order_by().values("pk"))
    first, *others = branches
    return first.union(*others) if others else first


class CaseQuerySet(models.QuerySet["Case"]):
    def visible_to(self, user: Any) -> CaseQuerySet:
        """Cases the user may open: her area's, those sent to her units, those her units
        registered; never a case that accuses one of her units."""
        scope = access.case_scope(user)
        if scope.empty:
            return self.none()
        reach: Any = Q(pk__in=[])
        if scope.region_paths:
            reach |= access.path_prefix_q("region__path", scope.region_paths)
        if scope.unit_paths:
            sent_here = WorkOrder.objects.filter(case=OuterRef("pk")).filter(access.path_prefix_q("unit__path", scope.unit_paths))
            reach |= Exists(sent_here)
        if scope.unit_ids:
            reach |= Q(registering_unit_id__in=scope.unit_ids)
        return self.filter(reach).exclude(accused_unit_id__in=scope.all_unit_ids)

    def listed_for(self, user: Any) -> CaseQuerySet:
        """The cases of this queryset she may open, in the shape that lists and searches need.

        Exactly the cases of ``visible_to`` (her area's, those sent to her units' subtrees,
        those her units registered; never one accusing one of her units), built so that
        the work grows with her scope, not with the installation. ``visible_to`` ORs a
        region join, an EXISTS over work orders and the registering unit; no index answers
        that OR, so a list would read every case there is. Here each way of reaching a case
        is its own id query, read from an index alone — region subtree
        (``case_region_status``), work orders to her unit subtree (``work_order_inbox``),
        registering unit (``case_registering_unit``) — their UNION is computed once, and
        the cases are fetched by id.

        Filters and ordering may come before or after it (a slice last, as always). When
        something else already names a handful of cases — one record by its id, a case number,
        a phone, the few cases waiting for dispatch in the whole installation — use
        ``visible_to``, which checks those rows instead of listing her whole scope.
        """
        scope = access.case_scope(user)
        if scope.empty:
            return self.none()
        return self.filter(OneOf(models.F("pk"), _reach(scope))).exclude(accused_unit_id__in=scope.all_unit_ids)

    def listed_ids(self, user: Any) -> list[int]:
        """The ids of ``Case.objects.listed_for(user)``, read without touching the cases she reaches.

        ``listed_for`` fetches each case of the UNION by id to test the accusation (for a city,
        65,000 index probes: three quarters of its time at a million cases); here the UNION's ids
        are read as they are and the few cases accusing one of her units, read from their own
        index, are taken out in Python. For readers that need nothing of the cases but that they
        are hers (the assessment's whole-scope table). Only on ``Case.objects`` itself.
        """
        scope = access.case_scope(user)
        if scope.empty:
            return []
        accusing = set(Case.objects.filter(accused_unit_id__in=scope.all_unit_ids).values_list("pk", flat=True))
        # The UNION's one column as the branches selected it (case ids; the work orders' case_id).
        sql, params = _reach(scope).query.sql_with_params()
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql, params)
            return [pk for (pk,) in cursor.fetchall() if pk not in accusing]

    def open(self) -> CaseQuerySet:
        return self.exclude(status__in=FINAL_CASE_STATUSES)


class Case(TimeStampedModel, PublicIdModel):
    """A request (诉求件) and everything done about it."""

    number = models.CharField(_("case number"), max_length=32, unique=True)
    request_type = models.CharField(_("request type"), max_length=16, choices=RequestType.choices)
    # Indexed by case_category_created (category first), like region and registering_unit below.
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="cases", db_index=False)
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.REGISTERED)
    summary = models.TextField(_("summary"))
    petitioner = models.ForeignKey("registry.Person", verbose_name=_("petitioner"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey("org.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="+", db_index=False)
    address = EncryptedTextField(_("address"))
    location_confidential = models.BooleanField(_("location is confidential"), default=False)
    registering_unit = models.ForeignKey(
        "org.Unit", verbose_name=_("registered by unit"), on_delete=models.PROTECT, related_name="registered_cases", db_index=False
    )
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("registered by"), on_delete=models.PROTECT, related_name="+")
    # An accusation against a unit: that unit is never suggested and never sees the case.
    accused_unit = models.ForeignKey("org.Unit", verbose_name=_("accused unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Mandatory reports (强制报告) by institutions.
    reporting_institution = models.ForeignKey(
        "org.Unit", verbose_name=_("reporting institution"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    police_notified = models.BooleanField(_("police informed"), default=False)
    police_incident_number = models.CharField(_("police incident number"), max_length=64, blank=True)
    reply = models.TextField(_("direct answer"), blank=True)
    not_accepted_reason = models.TextField(_("reason for not accepting"), blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at"]
        indexes = [
            # The id at the end lets the scope of lists be read from these two alone (CaseQuerySet.listed_for).
            models.Index(fields=["region", "status", "created_at", "id"], name="case_region_status"),
            models.Index(fields=["category", "created_at"], name="case_category_created"),
            models.Index(fields=["registering_unit", "status", "id"], name="case_registering_unit"),
            # Declared here rather than with db_index=True, which on PostgreSQL adds a second,
            # LIKE-capable copy of the index that no query uses (statuses are matched exactly).
            models.Index(fields=["status"], name="case_status"),
            # Lists and searches test their filters on every case of her scope (by id) and sort
            # them by date: from this index alone, so that only the page's rows are read from the
            # table (cases.views.OneReadPaginator, then the rows by id). The assessment gathers her
            # scope's registration and resolution times from it too (PostgreSQL: resolved_at included).
            models.Index(fields=["id", "created_at", "status", "category", "region", "accused_unit"], include=["resolved_at"], name="case_scope_list"),
        ]

    def __str__(self) -> str:
        return self.number


class PartyRole(models.TextChoices):
    PETITIONER = "petitioner", _("Petitioner")
    VICTIM = "victim", _("Victim")
    RESPONDENT = "respondent", _("Respondent")
    REPORTER = "reporter", _("Reporter")
    GUARDIAN = "guardian", _("Guardian")
    OTHER = "other", _("Other person concerned")


class CaseParty(models.Model):
    """Someone a case concerns, in a role; a respondent may be an organisation (an employer)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=16, choices=PartyRole.choices)
    person = models.ForeignKey("registry.Person", verbose_name=_("person"), null=True, blank=True, on_delete=models.PROTECT, related_name="case_parties")
    organisation_name = models.CharField(_("organisation"), max_length=200, blank=True)
    # A mandatory reporter's identity is kept from everyone outside the handling units.
    confidential = models.BooleanField(_("confidential"), default=False)

    class Meta:
        verbose_name = _("person concerned")
        verbose_name_plural = _("people concerned")
        constraints = [models.CheckConstraint(condition=Q(person__isnull=False) | ~Q(organisation_name=""), name="party_is_person_or_organisation")]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.person or self.organisation_name}"


class Role(models.TextChoices):
    LEAD = "lead", _("Lead (主办)")
    COHANDLER = "cohandler", _("Co-handler (协办)")


class LegalBasis(models.TextChoices):
    CONSENT = "consent", _("Consent of the person")
    STATUTORY_DUTY = "statutory", _("Statutory duty (e.g. a mandatory report)")
    EMERGENCY = "emergency", _("Emergency")


class WorkOrderStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    SIGNED = "signed", _("Signed for")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned")
    TRANSFERRED = "transferred", _("Transferred")


class WorkOrderAction(models.TextChoices):
    SIGN_FOR = "sign_for", _("Sign for")
    RETURN = "return", _("Return")
    RECORD_FIRST_CONTACT = "record_first_contact", _("Record first contact")
    COMPLETE = "complete", _("Complete")
    ACCEPT = "accept", _("Accept the result")
    SEND_BACK = "send_back", _("Send back for more work")
    TRANSFER_OUT = "transfer_out", _("Hand over after transfer")
    # After the petitioner's unsatisfied rating, the dispatching unit reopens the accepted lead order (重办).
    REWORK = "rework", _("Send back for rework")


#: The one transition table: (status, action) → new status. Anything else is refused.
WORK_ORDER_TRANSITIONS: dict[tuple[str, str], str] = {
    (WorkOrderStatus.SENT, WorkOrderAction.SIGN_FOR): WorkOrderStatus.SIGNED,
    (WorkOrderStatus.SENT, WorkOrderAction.RETURN): WorkOrderStatus.RETURNED,
    (WorkOrderStatus.SIGNED, WorkOrderAction.RETURN): WorkOrderStatus.RETURNED,
    (WorkOrderStatus.SIGNED, WorkOrderAction.RECORD_FIRST_CONTACT): WorkOrderStatus.IN_PROGRESS,
    (WorkOrderStatus.IN_PROGRESS, WorkOrderAction.COMPLETE): WorkOrderStatus.COMPLETED,
    (WorkOrderStatus.COMPLETED, WorkOrderAction.ACCEPT): WorkOrderStatus.ACCEPTED,
    (WorkOrderStatus.COMPLETED, WorkOrderAction.SEND_BACK): WorkOrderStatus.IN_PROGRESS,
    (WorkOrderStatus.SENT, WorkOrderAction.TRANSFER_OUT): WorkOrderStatus.TRANSFERRED,
    (WorkOrderStatus.SIGNED, WorkOrderAction.TRANSFER_OUT): WorkOrderStatus.TRANSFERRED,
    (WorkOrderStatus.IN_PROGRESS, WorkOrderAction.TRANSFER_OUT): WorkOrderStatus.TRANSFERRED,
    (WorkOrderStatus.ACCEPTED, WorkOrderAction.REWORK): WorkOrderStatus.IN_PROGRESS,
}

#: Work orders that still hold the case (their unit is handling it now).
ACTIVE_WORK_ORDER_STATUSES = frozenset({WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.COMPLETED})


class ReturnRuling(models.TextChoices):
    JUSTIFIED = "justified", _("Return justified")
    UNJUSTIFIED = "unjustified", _("Return unjustified")


class WorkOrderQuerySet(models.QuerySet["WorkOrder"]):
    def visible_to(self, user: Any) -> WorkOrderQuerySet:
        """Work orders of the cases she may open."""
        return self.filter(case__in=Case.objects.visible_to(user))

    def actionable_by(self, user: Any) -> WorkOrderQuerySet:
        """Work orders addressed to a unit in which she handles work (her inbox).

        A federation's dispatchers sign for and handle what is sent to their federation
        too (the services allow it), so their units count as well.
        """
        units = access.units_with_capability(user, Capability.HANDLE_WORK_ORDERS) | access.units_with_capability(user, Capability.DISPATCH_CASES)
        return self.filter(unit__in=units)

    def active(self) -> WorkOrderQuerySet:
        return self.filter(status__in=ACTIVE_WORK_ORDER_STATUSES)


class WorkOrder(TimeStampedModel, PublicIdModel):
    """What one unit must do about a case: lead or co-handle, from sign-for to review."""

    # case, unit and sent_by_unit lead a composite index each (Meta.indexes): a single-column one would only slow writes.
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="work_orders", db_index=False)
    unit = models.ForeignKey("org.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="work_orders", db_index=False)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    status = models.CharField(_("status"), max_length=16, choices=WorkOrderStatus.choices, default=WorkOrderStatus.SENT)
    time_class = models.CharField(_("time class"), max_length=16, choices=TimeClass.choices, default=TimeClass.STANDARD)
    legal_basis = models.CharField(_("legal basis for sharing"), max_length=16, choices=LegalBasis.choices)
    # Who sent it: the dispatching unit, or the unit that forwarded it down (转派).
    sent_by_unit = models.ForeignKey("org.Unit", verbose_name=_("sent by unit"), on_delete=models.PROTECT, related_name="sent_work_orders", db_index=False)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey("self", verbose_name=_("forwarded from"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    instructions = models.TextField(_("instructions"), blank=True)
    signed_at = models.DateTimeField(_("signed for at"), null=True, blank=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    first_contact_at = models.DateTimeField(_("first contact at"), null=True, blank=True)
    first_note_at = models.DateTimeField(_("first progress note at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True)
    outcome_codes = models.JSONField(_("outcome codes"), default=list, blank=True)
    amount_yuan = models.DecimalField(_("amount (yuan)"), max_digits=14, decimal_places=2, null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_comment = models.TextField(_("review comment"), blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    return_reason = models.TextField(_("reason for return"), blank=True)
    return_ruling = models.CharField(_("ruling on the return"), max_length=16, choices=ReturnRuling.choices, blank=True)
    return_ruled_at = models.DateTimeField(null=True, blank=True)
    return_deadline = models.DateTimeField(_("may be returned until"), null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    objects = WorkOrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["created_at", "id"]
        indexes = [
            # The case at the end lets the scope of case lists be read from the index alone (CaseQuerySet.listed_for).
            models.Index(fields=["unit", "status", "created_at", "case"], name="work_order_inbox"),
            models.Index(fields=["case", "status"], name="work_order_case_status"),
            models.Index(fields=["sent_by_unit", "status"], name="work_order_sent_by"),
            # The assessment's work of a period, sent to (or by) each unit in her scope.
            models.Index(fields=["unit", "created_at"], name="work_order_unit_period"),
            models.Index(fields=["sent_by_unit", "created_at"], name="work_order_sender_period"),
            # Every work order of her units, by id from the index alone: the reminders her inbox
            # shows are looked up by these ids (supervision.board_views.inbox_chases).
            models.Index(fields=["unit", "id"], name="work_order_unit_ids"),
        ]
        constraints = [
            # Exactly one active lead per case and level of forwarding.
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(role="lead", parent__isnull=True, status__in=["sent", "signed", "in_progress", "completed", "accepted"]),
                name="one_active_top_level_lead",
            ),
            models.UniqueConstraint(
                fields=["parent"],
                condition=Q(role="lead", parent__isnull=False, status__in=["sent", "signed", "in_progress", "completed", "accepted"]),
                name="one_active_lead_per_forwarding",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.number} · {self.unit} · {self.get_role_display()}"


class Transfer(TimeStampedModel):
    """A case handed sideways to a peer unit (Longhua → Guangming), which must accept it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the receiving unit")
        ACCEPTED = "accepted", _("Accepted")
        REFUSED = "refused", _("Refused")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="transfers")
    from_unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    to_unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="incoming_transfers")
    reason = models.TextField(_("reason"))
    new_region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    new_address = EncryptedTextField(_("new address"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")

    def __str__(self) -> str:
        return f"{self.case} → {self.to_unit}"


class EventKind(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    CONTACT = "contact", _("Contact recorded")
    DISPATCHED = "dispatched", _("Dispatched")
    SIGNED_FOR = "signed_for", _("Signed for")
    RETURNED = "returned", _("Returned")
    RETURN_RULED = "return_ruled", _("Return ruled")
    FORWARDED = "forwarded", _("Forwarded down")
    FIRST_CONTACT = "first_contact", _("First contact with the petitioner")
    NOTE = "note", _("Progress note")
    COMPLETED = "completed", _("Completed")
    ACCEPTED = "accepted", _("Result accepted")
    SENT_BACK = "sent_back", _("Sent back for more work")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    ANSWERED = "answered", _("Answered directly")
    NOT_ACCEPTED = "not_accepted", _("Not accepted")
    MERGED = "merged", _("Merged")
    UNMERGED = "unmerged", _("Merge undone")
    TRANSFER_REQUESTED = "transfer_requested", _("Transfer requested")
    TRANSFER_ACCEPTED = "transfer_accepted", _("Transfer accepted")
    TRANSFER_REFUSED = "transfer_refused", _("Transfer refused")
    EMERGENCY_HANDOFF = "emergency_handoff", _("Handed to emergency services")
    ATTACHMENT = "attachment", _("Attachment added")
    # Deadlines and supervision (rightscare.supervision).
    CLOCK_PAUSED = "clock_paused", _("Deadlines paused")
    CLOCK_RESUMED = "clock_resumed", _("Deadlines resumed")
    EXTENSION_REQUESTED = "extension_requested", _("More time asked for")
    EXTENSION_DECIDED = "extension_decided", _("Request for more time decided")
    DEADLINE_WARNING = "deadline_warning", _("Deadline warning")
    CHASED = "chased", _("Reminder or supervision")
    CHASE_ANSWERED = "chase_answered", _("Reminder answered")
    SAFETY_OPENED = "safety_opened", _("Safety follow-up opened")
    SAFETY_REVIEWED = "safety_reviewed", _("Safety review")
    SAFETY_ENDED = "safety_ended", _("Safety follow-up ended")
    # The petitioner's loop (rating, return visit, rework).
    RATED = "rated", _("Rated by the petitioner")
    RETURN_VISIT = "return_visit", _("Return visit")
    REWORK = "rework", _("Sent back for rework")
    REOPENED = "reopened", _("Reopened")


class Visibility(models.TextChoices):
    UNIT = "unit", _("Within my unit")
    HANDLING = "handling", _("Shared with the handling units")
    PUBLIC = "public", _("Public for the petitioner")


class CaseEvent(models.Model):
    """One entry of a case's timeline: append-only, in order, saying which unit, who and when."""

    # Indexed by case_event_timeline (case first).
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.HANDLING)
    text = models.TextField(blank=True)
    # Text for the petitioner's tracking page: never names a handling person.
    public_text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["case", "at", "id"], name="case_event_timeline"),
            # The assessment's rework rate asks of every work order whether it was sent back
            # (for more work, or for rework after a rating): a few rows, found without reading
            # the work order's whole timeline.
            models.Index(fields=["work_order"], condition=Q(kind__in=["sent_back", "rework"]), name="case_event_sent_back"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    @property
    def public_message(self) -> str:
        """What the petitioner reads, in the reader's language.

        Events the system writes store their message as its English msgid and are
        translated when shown; a handler's public note is shown as she wrote it.
        """
        if not self.public_text or self.kind == EventKind.NOTE:
            return self.public_text
        return gettext(self.public_text)


class EmergencyHandoff(models.Model):
    """The operator handed the emergency to 110/120/119: when, and the incident number."""

    class Service(models.TextChoices):
        POLICE = "110", _("Police (110)")
        AMBULANCE = "120", _("Ambulance (120)")
        FIRE = "119", _("Fire (119)")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="handoffs")
    service = models.CharField(_("service"), max_length=8, choices=Service.choices)
    at = models.DateTimeField(_("handed over at"), default=timezone.now)
    incident_number = models.CharField(_("incident number"), max_length=64, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("emergency hand-off")
        verbose_name_plural = _("emergency hand-offs")

    def __str__(self) -> str:
        return f"{self.case} → {self.service}"


class DutyShift(models.Model):
    """Who is on duty (值班) for a unit, when: emergencies and after-hours cases go to them."""

    # Indexed by duty_shift_when (unit first).
    unit = models.ForeignKey("org.Unit", on_delete=models.CASCADE, related_name="duty_shifts", db_index=False)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("on duty"), on_delete=models.PROTECT, related_name="+")
    phone = models.CharField(_("duty phone"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty shifts")
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["unit", "starts_at", "ends_at"], name="duty_shift_when")]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="duty_shift_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.unit} {self.starts_at:%Y-%m-%d %H:%M}"


class Attachment(TimeStampedModel, PublicIdModel):
    """A file of a case, served only through a permission-checked view; reads are audited."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=255, unique=True)
    encrypted = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_by_unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class CaseNumberSequence(models.Model):
    """The next case number per prefix and year (SZ-2026-000123), allocated under a row lock."""

    prefix = models.CharField(max_length=8)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("case number sequence")
        verbose_name_plural = _("case number sequences")
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="case_number_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last}"
