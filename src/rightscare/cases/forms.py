"""Forms of the case, dispatch and work-order pages; choices are always limited to what she may use."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from rightscare.cases.attachments import MAX_ATTACHMENT_BYTES
from rightscare.cases.models import CaseStatus, Category, LegalBasis, ReturnRuling, TimeClass, Visibility
from rightscare.core import identity
from rightscare.org import access
from rightscare.org.divisions import RegionLevel
from rightscare.org.forms import OnceForm, RegionChoiceField, UnitChoiceField
from rightscare.org.models import Region, Unit, UnitKind


def _attrs_html(attrs: dict[str, Any]) -> str:
    """Django's ``django/forms/widgets/attrs.html``, in Python."""
    return "".join(
        format_html(" {}", name) if value is True else format_html(' {}="{}"', name, str(value)) for name, value in attrs.items() if value is not False
    )


class PlainSelect(forms.Select):
    """A ``<select>`` with the markup of Django's ``select.html``, written in Python.

    Django renders a select through a template, and each of its options through a template
    of its own: for the case search's regions, units and categories (hundreds of options for
    a city) that was most of the form's time. Same context (``get_context``), same markup.
    """

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"', widget["name"]), _attrs_html(widget["attrs"]), ">"]
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            for option in group_choices:
                parts += [
                    format_html('\n  <option value="{}"', str(option["value"])),
                    _attrs_html(option["attrs"]),
                    format_html(">{}</option>\n", option["label"]),
                ]
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308  # every value above went through format_html


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class CategoryChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{'· ' if obj.parent_id else ''}{obj.display_name}"


def current_categories() -> Any:
    """The current taxonomy, each first-level category followed by its sub-categories."""
    return Category.objects.filter(valid_until__isnull=True).select_related("parent").order_by("sort_order", "code")


def _sorted_taxonomy(queryset: Any) -> list[Category]:
    rows = list(queryset)
    tops = [c for c in rows if c.parent_id is None]
    ordered: list[Category] = []
    for top in tops:
        ordered.append(top)
        ordered.extend(c for c in rows if c.parent_id == top.pk)
    return ordered


#: What a completed work order achieved (several may apply).
OUTCOME_CODES: list[tuple[str, Any]] = [
    ("mediated", _("Mediated agreement")),
    ("compensated", _("Compensation or back pay obtained")),
    ("legal_aid", _("Legal aid or representation provided")),
    ("protection_order", _("Protection order or police warning")),
    ("relief", _("Relief or services provided")),
    ("referred", _("Referred to another body")),
    ("not_substantiated", _("Not substantiated")),
    ("withdrawn", _("Withdrawn by the petitioner")),
]


# --- the case -------------------------------------------------------------------------------


class DispatchForm(OnceForm):
    """Send a case to a lead unit and co-handlers (the responsibility list's suggestion pre-selected)."""

    lead = UnitChoiceField(label=_("Lead unit (主办)"), queryset=Unit.objects.none())
    cohandlers = UnitMultipleChoiceField(label=_("Co-handling units (协办)"), queryset=Unit.objects.none(), required=False, widget=forms.CheckboxSelectMultiple)
    time_class = forms.ChoiceField(label=_("Time class"), choices=TimeClass.choices)
    legal_basis = forms.ChoiceField(
        label=_("Legal basis for sharing her data with these units"),
        choices=LegalBasis.choices,
        widget=forms.RadioSelect,
        help_text=_("Consent of the person; a statutory duty such as a mandatory report; or an emergency."),
    )
    instructions = forms.CharField(label=_("Instructions"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=4000)

    def __init__(self, *args: Any, targets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = targets.select_related("kind").order_by("path")
        self.fields["lead"].queryset = queryset  # type: ignore[attr-defined]
        self.fields["cohandlers"].queryset = queryset  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lead, cohandlers = data.get("lead"), data.get("cohandlers") or []
        if lead is not None and lead in cohandlers:
            self.add_error("cohandlers", _("The lead unit cannot also be a co-handler."))
        return data


class TransferForm(OnceForm):
    """Hand the case sideways to a peer district, with the new place (kept confidential)."""

    to_unit = UnitChoiceField(label=_("Receiving unit"), queryset=Unit.objects.none())
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    new_region = RegionChoiceField(label=_("New region"), queryset=Region.objects.none(), required=False)
    new_address = forms.CharField(
        label=_("New address"),
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
        required=False,
        max_length=500,
        help_text=_("Kept confidential: only the receiving units will see it; your unit will no longer see the case's location."),
    )

    def __init__(self, *args: Any, targets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        targets = targets.select_related("region").order_by("path")
        self.fields["to_unit"].queryset = targets  # type: ignore[attr-defined]
        paths = sorted({unit.region.path for unit in targets})
        regions = Region.objects.none()
        if paths:
            regions = Region.objects.filter(access.path_prefix_q("path", set(paths))).order_by("path")
        self.fields["new_region"].queryset = regions  # type: ignore[attr-defined]


class TransferDecisionForm(OnceForm):
    decision = forms.ChoiceField(label=_("Decision"), choices=[("accept", _("Accept the case")), ("refuse", _("Refuse"))], widget=forms.RadioSelect)
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "refuse" and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why the transfer is refused."))
        return data


class MergeForm(OnceForm):
    into_number = forms.CharField(label=_("Merge into the case numbered"), max_length=32, help_text=_("For example SZ-2026-000123."))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000)


class DeclineForm(OnceForm):
    reason = forms.CharField(
        label=_("Reason for not accepting"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text=_("The petitioner is told this reason: write it for her, and name no person."),
    )


class CloseForm(OnceForm):
    note = forms.CharField(label=_("Closing note"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000)


class AttachmentForm(OnceForm):
    file = forms.FileField(
        label=_("File"),
        help_text=_("JPEG or PNG pictures, PDF files and Word (.docx) documents up to 10 MB. Photo location data is removed."),
        widget=forms.ClearableFileInput(attrs={"accept": ".jpg,.jpeg,.png,.pdf,.docx"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_ATTACHMENT_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        return upload


# --- work orders ------------------------------------------------------------------------------


class ReasonForm(OnceForm):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class EmptyActionForm(OnceForm):
    """An action with nothing to fill in (sign for): only the submission key."""


class RulingForm(OnceForm):
    ruling = forms.ChoiceField(label=_("Ruling"), choices=ReturnRuling.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000)


class FirstContactForm(OnceForm):
    note = forms.CharField(
        label=_("How was she contacted?"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=4000,
        help_text=_("Follow her safe-contact instructions (safe times, no text messages when so marked)."),
    )


class NoteForm(OnceForm):
    text = forms.CharField(label=_("Progress note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=8000)
    visibility = forms.ChoiceField(label=_("Who may read it"), choices=Visibility.choices, initial=Visibility.HANDLING, widget=forms.RadioSelect)
    public_text = forms.CharField(
        label=_("Text for the petitioner"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
        help_text=_(
            "Only for a public note: what the petitioner reads on her tracking page. Never name a person; "
            "write “the responsible unit”. Empty: the note itself is shown."
        ),
    )


class CompleteForm(OnceForm):
    result = forms.CharField(label=_("Result"), widget=forms.Textarea(attrs={"rows": 3}), max_length=8000)
    outcome_codes = forms.MultipleChoiceField(label=_("Outcome"), choices=OUTCOME_CODES, required=False, widget=forms.CheckboxSelectMultiple)
    amount_yuan = forms.DecimalField(
        label=_("Amount obtained (yuan)"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        help_text=_("Back pay, compensation or relief obtained for her, if any."),
    )


class ReviewForm(OnceForm):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("accept", _("Accept the result")), ("send_back", _("Send back for more work"))], widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000, help_text=_("Required when sending it back.")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "send_back" and not (data.get("comment") or "").strip():
            self.add_error("comment", _("Say what is still missing."))
        return data


class ForwardForm(OnceForm):
    lead = UnitChoiceField(
        label=_("Lead unit below (optional)"),
        queryset=Unit.objects.none(),
        required=False,
        help_text=_("Leave empty to keep leading yourself and only bring in co-handlers."),
    )
    cohandlers = UnitMultipleChoiceField(label=_("Co-handling units"), queryset=Unit.objects.none(), required=False, widget=forms.CheckboxSelectMultiple)
    legal_basis = forms.ChoiceField(label=_("Legal basis for sharing"), choices=[("", _("As for my work order")), *LegalBasis.choices], required=False)
    instructions = forms.CharField(label=_("Instructions"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=4000)

    def __init__(self, *args: Any, targets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = targets.order_by("path")
        self.fields["lead"].queryset = queryset  # type: ignore[attr-defined]
        self.fields["cohandlers"].queryset = queryset  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lead, cohandlers = data.get("lead"), data.get("cohandlers") or []
        if lead is None and not cohandlers:
            self.add_error("lead", _("Choose at least one unit."))
        if lead is not None and lead in cohandlers:
            self.add_error("cohandlers", _("The lead unit cannot also be a co-handler."))
        return data


# --- lists --------------------------------------------------------------------------------------


class CaseSearchForm(forms.Form):
    """The case search: every field optional; phone and number exact."""

    number = forms.CharField(label=_("Case number"), max_length=32, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=64, required=False, help_text=_("The whole number; parts of a number are not searched."))
    name = forms.CharField(label=_("Name"), max_length=100, required=False, help_text=_("The whole name or its beginning."))
    category = CategoryChoiceField(label=_("Category"), queryset=Category.objects.none(), required=False, widget=PlainSelect)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("Any status")), *CaseStatus.choices], required=False, widget=PlainSelect)
    region = RegionChoiceField(label=_("Region"), queryset=Region.objects.none(), required=False, widget=PlainSelect)
    unit = UnitChoiceField(label=_("Handled by unit"), queryset=Unit.objects.none(), required=False, widget=PlainSelect)
    created_from = forms.DateField(label=_("Registered from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label=_("Registered until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = current_categories()
        self.fields["category"].queryset = categories  # type: ignore[attr-defined]
        self.fields["category"].choices = [("", "---------"), *((c.pk, self.fields["category"].label_from_instance(c)) for c in _sorted_taxonomy(categories))]  # type: ignore[attr-defined]
        # Only what the options show (and the region's path, which the search uses): a city's
        # hundreds of regions and units are read for every search page.
        self.fields["region"].queryset = access.visible_regions(user).order_by("path").only("name", "name_en", "code", "depth", "path")  # type: ignore[attr-defined]
        self.fields["unit"].queryset = access.visible_units(user).order_by("path").only("name", "name_en", "path")  # type: ignore[attr-defined]

    def clean_phone(self) -> str:
        phone = str(self.cleaned_data.get("phone") or "").strip()
        if phone:
            # Raises the identity module's own message for an incomplete or invalid number.
            identity.normalise_phone(phone)
        return phone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("The end is before the start."))
        return data


# --- administration --------------------------------------------------------------------------


class RuleForm(OnceForm):
    dispatch_level = forms.ChoiceField(label=_("Dispatching level"), choices=RegionLevel.choices)
    region = RegionChoiceField(
        label=_("Only in region"), queryset=Region.objects.none(), required=False, help_text=_("Leave empty for every region of this level.")
    )
    category = CategoryChoiceField(label=_("Category"), queryset=Category.objects.none(), help_text=_("A first-level category covers its sub-categories."))
    lead_kind = forms.ModelChoiceField(label=_("Lead unit kind"), queryset=UnitKind.objects.none())
    cohandler_kinds = forms.ModelMultipleChoiceField(
        label=_("Co-handling unit kinds"), queryset=UnitKind.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    time_class = forms.ChoiceField(label=_("Time class"), choices=TimeClass.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = current_categories()
        self.fields["category"].queryset = categories  # type: ignore[attr-defined]
        self.fields["category"].choices = [("", "---------"), *((c.pk, self.fields["category"].label_from_instance(c)) for c in _sorted_taxonomy(categories))]  # type: ignore[attr-defined]
        self.fields["region"].queryset = Region.objects.exclude(level__in=[RegionLevel.COMMUNITY]).order_by("path")  # type: ignore[attr-defined]
        kinds = UnitKind.objects.order_by("family", "code")
        self.fields["lead_kind"].queryset = kinds  # type: ignore[attr-defined]
        self.fields["cohandler_kinds"].queryset = kinds  # type: ignore[attr-defined]


class CategoryForm(OnceForm):
    code = forms.SlugField(label=_("Code"), max_length=60, help_text=_("Letters, digits and hyphens; it never changes."))
    name = forms.CharField(label=_("Name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=150, required=False)
    parent = CategoryChoiceField(label=_("Parent category"), queryset=Category.objects.none(), required=False, help_text=_("Empty for a first-level category."))
    domestic_violence = forms.BooleanField(label=_("Domestic violence"), required=False)
    child_protection = forms.BooleanField(label=_("Child protection"), required=False)
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, max_value=32767, initial=0)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Category.objects.filter(valid_until__isnull=True, parent__isnull=True).order_by("sort_order", "code")  # type: ignore[attr-defined]
        if editing:
            self.fields["code"].disabled = True
