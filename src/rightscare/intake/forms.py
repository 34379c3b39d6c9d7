"""Forms of the intake pages: the hotline screen, the contacts and the duty roster.

Every choice is limited to the operator's scope (her units, her regions, the units
she may see). Phones and ID numbers are checked here with ``core.identity`` so that
the error shows next to the field at once; the services check them again.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from rightscare.cases.models import Case, Category, EmergencyHandoff, RequestType, Urgency
from rightscare.cases.selectors import CallerHistory, caller_history
from rightscare.core import identity
from rightscare.intake.models import Channel
from rightscare.intake.services import HandoffDetails, PersonDetails
from rightscare.org import access
from rightscare.org.divisions import RegionLevel
from rightscare.org.forms import OnceForm
from rightscare.org.models import Region, Unit, UnitFamily, User
from rightscare.org.roles import Capability
from rightscare.registry.models import Person, Sex
from rightscare.registry.services import SafeContactInput, people_with_phone

#: Region levels a call is located at on the intake screen.
INTAKE_REGION_LEVELS = (RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY)

#: Unit families that make mandatory reports: hospitals and schools, the police, committees, providers.
REPORTING_FAMILIES = (UnitFamily.INSTITUTION, UnitFamily.DEPARTMENT, UnitFamily.COMMITTEE, UnitFamily.PROVIDER)

#: Channels an operator records on this screen (the API records its own contacts).
SCREEN_CHANNELS = [(value, label) for value, label in Channel.choices if value != Channel.API]


class OptionAttrsSelect(forms.Select):
    """A select whose options carry data attributes (which categories are sensitive…)."""

    def __init__(self, *args: Any, option_attrs: dict[str, dict[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option_attrs = option_attrs or {}

    def create_option(self, name: str, value: Any, label: Any, selected: Any, index: int, subindex: int | None = None, attrs: Any = None) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        option["attrs"].update(self.option_attrs.get(str(value), {}))
        return option


class UnitChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


def _phone(value: str) -> str:
    return identity.normalise_phone(value) if value.strip() else ""


def category_choices() -> tuple[list[Any], dict[str, dict[str, str]], dict[str, Category]]:
    """The current taxonomy for a select: one ``<optgroup>`` per first-level category.

    Returns the choices, the options' data attributes (sensitive, child protection) and
    the categories by option value.
    """
    rows = list(Category.objects.filter(valid_until__isnull=True).order_by("sort_order", "code"))
    children: dict[int, list[Category]] = defaultdict(list)
    for row in rows:
        if row.parent_id is not None:
            children[row.parent_id].append(row)
    choices: list[Any] = [("", _("Choose a category"))]
    for top in (row for row in rows if row.parent_id is None):
        if children.get(top.pk):
            choices.append((top.display_name, [(str(child.pk), child.display_name) for child in children[top.pk]]))
        else:
            choices.append((str(top.pk), top.display_name))
    attrs: dict[str, dict[str, str]] = {}
    for row in rows:
        flags = {}
        if row.is_sensitive:
            flags["data-sensitive"] = "true"
        if row.child_protection:
            flags["data-child-protection"] = "true"
        if flags:
            attrs[str(row.pk)] = flags
    return choices, attrs, {str(row.pk): row for row in rows}


def intake_regions(user: Any, units: QuerySet[Unit]) -> list[Region]:
    """Where her calls may be located: districts, streets and communities inside her recording units' areas."""
    paths = {unit.region.path for unit in units.select_related("region")}
    return list(access.visible_regions(user).filter(access.path_prefix_q("path", paths), level__in=INTAKE_REGION_LEVELS).order_by("path"))


def region_choices(regions: list[Region]) -> list[Any]:
    """Regions for a select, one ``<optgroup>`` per top region (a district for a city operator)."""
    tops: list[Region] = []
    groups: dict[int, list[tuple[str, str]]] = {}
    for region in regions:
        top = next((t for t in tops if region.path.startswith(t.path)), None)
        if top is None:
            tops.append(region)
            groups[region.pk] = [(str(region.pk), str(_("%(name)s (whole area)") % {"name": region.display_name}))]
            continue
        indent = "· " * (region.depth - top.depth)
        groups[top.pk].append((str(region.pk), f"{indent}{region.display_name}"))
    return [("", _("Choose where it happened")), *((top.display_name, groups[top.pk]) for top in tops)]


class IntakeForm(OnceForm):
    """The hotline screen: one call, saved as a new case (or added to an existing one).

    ``attach_to`` (a case id, sent by the "add to this case instead" buttons) makes it
    record only the contact on that case: the case fields are then not needed.
    """

    # --- the caller -------------------------------------------------------------
    caller_phone = forms.CharField(
        label=_("Caller's phone"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autofocus": True, "autocomplete": "off", "inputmode": "tel", "accesskey": "p"}),
        help_text=_("The whole number: earlier calls appear once it is complete."),
    )
    existing_caller = forms.IntegerField(required=False, widget=forms.HiddenInput)
    anonymous = forms.BooleanField(label=_("Anonymous caller"), required=False)
    caller_name = forms.CharField(
        label=_("Caller's name"), max_length=100, required=False, widget=forms.TextInput(attrs={"accesskey": "n", "autocomplete": "off"})
    )
    caller_sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, initial=Sex.UNKNOWN, required=False)
    caller_age = forms.IntegerField(label=_("Age (approximate)"), min_value=0, max_value=130, required=False)
    caller_id_number = forms.CharField(label=_("ID number"), max_length=64, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    confirm_id_warnings = forms.BooleanField(label=_("I have checked the ID number: save it despite the warning"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=SCREEN_CHANNELS, initial=Channel.HOTLINE)
    external_ticket_number = forms.CharField(label=_("12345 ticket number"), max_length=64, required=False)
    external_deadline = forms.DateTimeField(label=_("12345 deadline"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    # --- the request ------------------------------------------------------------
    request_type = forms.ChoiceField(label=_("Request type"), choices=RequestType.choices, initial=RequestType.HELP)
    content = forms.CharField(
        label=_("What was said"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4, "accesskey": "w"}),
        error_messages={"required": _("Describe what she said.")},
    )
    category = forms.ChoiceField(label=_("Category"), error_messages={"invalid_choice": _("Unknown category."), "required": _("Choose a category.")})
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    region = forms.ChoiceField(
        label=_("Where"), error_messages={"invalid_choice": _("This region is outside your scope."), "required": _("Choose where it happened.")}
    )
    address = forms.CharField(label=_("Address"), max_length=500, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    location_confidential = forms.BooleanField(label=_("Confidential location (hide the address from everyone not handling the case)"), required=False)
    dispatch_now = forms.BooleanField(label=_("Dispatch now to the suggested units"), required=False, widget=forms.CheckboxInput(attrs={"accesskey": "d"}))

    # --- safe contact -------------------------------------------------------------
    may_call = forms.BooleanField(label=_("Safe to call"), required=False, initial=True)
    may_text = forms.BooleanField(label=_("Safe to send text messages"), required=False, initial=True)
    may_text_set = forms.CharField(required=False, widget=forms.HiddenInput)
    may_leave_voicemail = forms.BooleanField(label=_("Safe to leave voicemail"), required=False)
    phone_shared = forms.BooleanField(label=_("Others may answer or read this phone"), required=False)
    safe_from = forms.TimeField(label=_("Safe from"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    safe_until = forms.TimeField(label=_("Safe until"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    code_word = forms.CharField(label=_("Code word"), max_length=60, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    neutral_sender = forms.CharField(
        label=_("Neutral sender name"), max_length=60, required=False, help_text=_('Shown instead of ours, e.g. "Community service".')
    )

    # --- the respondent -------------------------------------------------------------
    respondent_name = forms.CharField(label=_("Respondent's name"), max_length=100, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    respondent_phone = forms.CharField(
        label=_("Respondent's phone"), max_length=64, required=False, widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"})
    )
    respondent_organisation = forms.CharField(label=_("Or an organisation (e.g. the employer)"), max_length=200, required=False)

    # --- a mandatory report ------------------------------------------------------------
    reporting_institution = UnitChoiceField(label=_("Reporting institution"), queryset=Unit.objects.none(), required=False)
    reporter_name = forms.CharField(label=_("Reporter's name"), max_length=100, required=False)
    reporter_phone = forms.CharField(
        label=_("Reporter's phone"), max_length=64, required=False, widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"})
    )
    reporter_confidential = forms.BooleanField(label=_("Keep the reporter confidential"), required=False, initial=True)
    police_notified = forms.BooleanField(label=_("The police were informed"), required=False)
    police_incident_number = forms.CharField(label=_("Police incident number"), max_length=64, required=False)

    # --- an accusation ---------------------------------------------------------------
    accused_unit = UnitChoiceField(label=_("Unit accused"), queryset=Unit.objects.none(), required=False)

    # --- an emergency ------------------------------------------------------------------
    handoff_service = forms.ChoiceField(label=_("Handed to"), choices=[("", _("Not handed over")), *EmergencyHandoff.Service.choices], required=False)
    handoff_at = forms.DateTimeField(
        label=_("Handed over at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text=_("Empty: now.")
    )
    handoff_incident_number = forms.CharField(label=_("Incident number"), max_length=64, required=False)

    # --- a consultation answered on the spot ------------------------------------------------
    reply = forms.CharField(label=_("Answer given"), max_length=10000, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    unit = UnitChoiceField(label=_("Recorded for"), queryset=Unit.objects.none(), required=False)

    #: Fields a contact added to an existing case still needs.
    CONTACT_FIELDS = ("caller_phone", "existing_caller", "channel", "content", "external_ticket_number", "external_deadline", "unit")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.recording_units = access.units_with_capability(user, Capability.RECORD_CONTACTS).select_related("region").order_by("path")
        self.fields["unit"].queryset = self.recording_units  # type: ignore[attr-defined]
        first = self.recording_units.first()
        self.initial.setdefault("unit", first.pk if first else None)
        if self.recording_units.count() <= 1:
            self.fields["unit"].widget = forms.HiddenInput()
        choices, attrs, self.categories = category_choices()
        self.fields["category"].choices = choices  # type: ignore[attr-defined]
        self.fields["category"].widget = OptionAttrsSelect(choices=choices, option_attrs=attrs, attrs={"accesskey": "k"})
        self.regions = {str(region.pk): region for region in intake_regions(user, self.recording_units)}
        region_options = region_choices(list(self.regions.values()))
        self.fields["region"].choices = region_options  # type: ignore[attr-defined]
        self.fields["region"].widget = forms.Select(choices=region_options, attrs={"accesskey": "l"})
        units = access.visible_units(user).filter(is_active=True).select_related("kind").order_by("path")
        self.fields["accused_unit"].queryset = units  # type: ignore[attr-defined]
        self.fields["reporting_institution"].queryset = units.filter(kind__family__in=REPORTING_FAMILIES)  # type: ignore[attr-defined]
        self.may_dispatch = access.units_with_capability(user, Capability.DISPATCH_CASES).exists()
        if not self.may_dispatch:
            del self.fields["dispatch_now"]
        self.attach_to = str(self.data.get("attach_to", "")).strip() if self.is_bound else ""
        if self.attach_to:
            for name in ("request_type", "category", "region", "urgency"):
                self.fields[name].required = False
        self.id_needs_confirmation = bool(self.is_bound and self.data.get("confirm_id_warnings"))
        if self.is_bound:
            self._default_no_text_messages()

    def _default_no_text_messages(self) -> None:
        """Domestic violence and child protection: no text messages unless she said they are safe.

        The page's script unticks the box when such a category is chosen and notes in
        ``may_text_set`` when the operator ticked it herself; without the script, or
        when she did not touch it, the safe default wins here.
        """
        category = self.categories.get(str(self.data.get("category", "")))
        if category is None or not category.is_sensitive or self.data.get("may_text_set") == "1":
            return
        # A copy of the submitted data that may change (``QueryDict`` copies are mutable).
        data: Any = copy.copy(self.data)
        data.pop("may_text", None)
        # What is shown again after an error is what will be saved.
        data["may_text_set"] = "1"
        self.data = data

    # --- field checks ---------------------------------------------------------------

    def clean_unit(self) -> Unit:
        unit = self.cleaned_data["unit"]
        if unit is None:
            # An operator of one unit records for it (the field is not even shown).
            only = list(self.recording_units[:2])
            if len(only) != 1:
                raise ValidationError(_("Choose the unit you record this call for."))
            unit = only[0]
        return unit

    def clean_caller_phone(self) -> str:
        return _phone(self.cleaned_data["caller_phone"])

    def clean_respondent_phone(self) -> str:
        return _phone(self.cleaned_data["respondent_phone"])

    def clean_reporter_phone(self) -> str:
        return _phone(self.cleaned_data["reporter_phone"])

    def clean_caller_id_number(self) -> str:
        raw = self.cleaned_data["caller_id_number"]
        if not raw.strip():
            return ""
        checked = identity.check_id_number(raw)
        if checked.warnings and not self.data.get("confirm_id_warnings"):
            self.id_needs_confirmation = True
            raise ValidationError([*checked.warnings, _("Check the number on the card and tick the confirmation if it is right.")])
        return checked.value

    def clean_category(self) -> Category | None:
        value = self.cleaned_data["category"]
        return self.categories[value] if value else None

    def clean_region(self) -> Region | None:
        value = self.cleaned_data["region"]
        return self.regions[value] if value else None

    def clean_attach(self) -> Case | None:
        """The case the contact is added to instead of a new one (one she may open, still open)."""
        if not self.attach_to:
            return None
        try:
            return Case.objects.visible_to(self.user).open().get(pk=int(self.attach_to))
        except (Case.DoesNotExist, ValueError):
            return None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        self.known_callers = known_callers(self.user, data.get("caller_phone", ""))
        existing = data.get("existing_caller")
        if existing and existing not in {person.pk for person in self.known_callers}:
            self.add_error("caller_phone", _("The chosen caller is not known by this number: choose again."))
        if data.get("channel") == Channel.PLATFORM_12345 and not data.get("external_ticket_number", "").strip():
            self.add_error("external_ticket_number", _("A transfer from 12345 needs its ticket number."))
        if self.attach_to:
            self.attach_case = self.clean_attach()
            if self.attach_case is None:
                self.add_error(None, _("That case cannot take this contact: it is closed or outside your scope."))
            return data
        if data.get("request_type") == RequestType.ACCUSATION and data.get("accused_unit") is None:
            self.add_error("accused_unit", _("Name the unit the accusation is about."))
        if data.get("police_incident_number", "").strip() and not data.get("police_notified"):
            self.add_error("police_notified", _("An incident number means the police were informed."))
        if (data.get("handoff_incident_number", "").strip() or data.get("handoff_at")) and not data.get("handoff_service"):
            self.add_error("handoff_service", _("Choose whom the emergency was handed to."))
        return data

    # --- what the services get ------------------------------------------------------------

    @property
    def caller(self) -> Person | None:
        existing = self.cleaned_data.get("existing_caller")
        return next((person for person in self.known_callers if person.pk == existing), None) if existing else None

    def new_caller(self) -> PersonDetails | None:
        """The caller to record, unless she is anonymous, already on file, or nothing was said about her."""
        data = self.cleaned_data
        if data["anonymous"] or self.caller is not None:
            return None
        if not (data["caller_name"].strip() or data["caller_phone"] or data["caller_id_number"]):
            return None
        return PersonDetails(
            name=data["caller_name"],
            sex=data["caller_sex"] or Sex.UNKNOWN,
            approximate_age=data["caller_age"],
            id_number=data["caller_id_number"],
            confirm_id_warnings=bool(data["confirm_id_warnings"]),
            phone=data["caller_phone"],
            phone_shared=data["phone_shared"],
            safe_contact=SafeContactInput(
                may_call=data["may_call"],
                may_text=data["may_text"],
                may_leave_voicemail=data["may_leave_voicemail"],
                safe_from=data["safe_from"],
                safe_until=data["safe_until"],
                code_word=data["code_word"].strip(),
                neutral_sender=data["neutral_sender"].strip(),
            ),
        )

    def take_call_arguments(self, *, dispatch_from: Unit | None, expected_units: list[int] | None, answer: bool) -> dict[str, Any]:
        """The keyword arguments of ``intake.services.take_call`` for this screen."""
        data = self.cleaned_data
        respondent = None
        if data["respondent_name"].strip() or data["respondent_phone"]:
            respondent = PersonDetails(name=data["respondent_name"], phone=data["respondent_phone"])
        reporter = None
        if data["reporter_name"].strip() or data["reporter_phone"]:
            reporter = PersonDetails(name=data["reporter_name"], phone=data["reporter_phone"])
        handoff = None
        if data["handoff_service"] and data["urgency"] == Urgency.EMERGENCY:
            handoff = HandoffDetails(service=data["handoff_service"], at=data["handoff_at"], incident_number=data["handoff_incident_number"])
        return {
            "unit": data["unit"],
            "channel": data["channel"],
            "content": data["content"],
            "request_type": data["request_type"],
            "category": data["category"],
            "region": data["region"],
            "caller_phone": data["caller_phone"],
            "caller": self.caller,
            "new_caller": self.new_caller(),
            "urgency": data["urgency"],
            "address": data["address"],
            "location_confidential": data["location_confidential"],
            "respondent": respondent,
            "respondent_organisation": data["respondent_organisation"],
            "reporter": reporter,
            "reporter_confidential": data["reporter_confidential"],
            "reporting_institution": data["reporting_institution"],
            "police_notified": data["police_notified"],
            "police_incident_number": data["police_incident_number"],
            "accused_unit": data["accused_unit"] if data["request_type"] == RequestType.ACCUSATION else None,
            "external_ticket_number": data["external_ticket_number"] if data["channel"] == Channel.PLATFORM_12345 else "",
            "external_deadline": data["external_deadline"] if data["channel"] == Channel.PLATFORM_12345 else None,
            "handoff": handoff,
            "reply": data["reply"] if answer else "",
            "dispatch_from": dispatch_from,
            "expected_units": expected_units,
        }


def known_callers(user: Any, phone: str, history: CallerHistory | None = None) -> list[Person]:
    """People on file with this number whom she may pick as the caller: those whose earlier
    cases or calls the caller history shows her, never through a respondent's phone."""
    if not phone:
        return []
    try:
        rows = [row for row in people_with_phone(phone) if not row.respondent_flag]
    except ValidationError:
        return []
    if not rows:
        return []
    history = history or caller_history(by=user, phone=phone)
    seen = {case.petitioner_id for case in history.cases} | {contact.caller_id for contact in history.contacts}
    people = {row.person_id: row.person for row in rows if row.person_id in seen}
    return sorted(people.values(), key=lambda person: person.pk)


# --- contacts -------------------------------------------------------------------------


class ContactFilterForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", _("All channels")), *Channel.choices], required=False)


class AttachContactForm(OnceForm):
    case_number = forms.CharField(label=_("Case number"), max_length=32, help_text=_("For example SZ-2026-000123."))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_case_number(self) -> Case:
        number = self.cleaned_data["case_number"].strip().upper()
        case = Case.objects.visible_to(self.user).filter(number=number).first()
        if case is None:
            raise ValidationError(_("No case with this number in your scope."))
        return case


# --- duty roster -------------------------------------------------------------------------


class DutyShiftForm(OnceForm):
    user = forms.ModelChoiceField(label=_("On duty"), queryset=User.objects.none())
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("Ends at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    phone = forms.CharField(label=_("Duty phone"), max_length=32, required=False, help_text=_("Empty: the unit's own number."))

    def __init__(self, *args: Any, unit: Unit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = User.objects.filter(memberships__unit=unit, memberships__revoked_at__isnull=True, is_active=True).distinct().order_by("full_name", "username")
        self.fields["user"].queryset = members  # type: ignore[attr-defined]
        self.fields["user"].label_from_instance = lambda user: user.get_full_name()  # type: ignore[attr-defined]
