"""Forms of the public pages (submit, track) and of the intake queue (confirm, attach, reject)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rightscare.cases.models import Case, Category, RequestType, Urgency
from rightscare.core.idempotency import new_key
from rightscare.org import access
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability
from rightscare.petitioners import codes, services

#: Request types a petitioner chooses from on the public form (accusations need a named unit: staff decide).
PUBLIC_REQUEST_TYPES = [(value, label) for value, label in RequestType.choices if value != RequestType.ACCUSATION]


def public_category_choices() -> tuple[list[Any], dict[str, Category]]:
    """The current categories, one group per first-level category."""
    rows = list(services.current_categories().select_related("parent").order_by("parent__sort_order", "sort_order", "code"))
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    order: list[str] = []
    for row in rows:
        group = row.parent.display_name if row.parent is not None else str(_("Other"))
        if group not in groups:
            order.append(group)
        groups[group].append((str(row.pk), row.display_name))
    choices: list[Any] = [("", _("Choose what it is about"))]
    choices.extend((group, groups[group]) for group in order)
    return choices, {str(row.pk): row for row in rows}


def public_region_choices() -> tuple[list[Any], dict[str, Region]]:
    """Districts, streets and communities that take requests, one group per district."""
    rows = list(services.submission_regions().order_by("path"))
    choices: list[Any] = [("", _("Choose the district, street or community"))]
    tops: list[Region] = []
    groups: dict[int, list[tuple[str, str]]] = {}
    for region in rows:
        top = next((t for t in tops if region.path.startswith(t.path)), None)
        if top is None:
            tops.append(region)
            groups[region.pk] = [(str(region.pk), str(_("%(name)s (not sure where exactly)") % {"name": region.display_name}))]
            continue
        groups[top.pk].append((str(region.pk), f"{'· ' * (region.depth - top.depth)}{region.display_name}"))
    choices.extend((top.display_name, groups[top.pk]) for top in tops)
    return choices, {str(row.pk): row for row in rows}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe); cleans to a list."""

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class SubmissionForm(forms.Form):
    """The public request form: who, what, where, and how it is safe to reach her."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    anonymous = forms.BooleanField(
        label=_("I want to stay anonymous (no name is kept)"),
        required=False,
    )
    name = forms.CharField(label=_("Your name"), max_length=100, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
        help_text=_("We use it only to reach you about this request, as you allow below."),
    )
    request_type = forms.ChoiceField(label=_("What do you need"), choices=PUBLIC_REQUEST_TYPES, initial=RequestType.HELP)
    category = forms.ChoiceField(label=_("What is it about"))
    description = forms.CharField(
        label=_("What happened"),
        max_length=services.MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": services.MAX_DESCRIPTION}),
        help_text=_("When and where it happened, who was involved, and what help you need."),
    )
    region = forms.ChoiceField(label=_("Where"))
    address = forms.CharField(label=_("Address or place (optional)"), max_length=300, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    may_call = forms.BooleanField(label=_("You may call me"), required=False, initial=True)
    may_text = forms.BooleanField(label=_("You may send me text messages"), required=False)
    safe_from = forms.TimeField(label=_("Safe to contact me from"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    safe_until = forms.TimeField(label=_("until"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    uploads = MultipleFileField(
        label=_("Photos or documents (optional)"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf,.docx"}),
        help_text=_("Up to 3 files of at most 10 MB each: JPEG or PNG pictures, PDF or Word. Location data in photos is removed."),
    )
    # A honeypot: hidden from people by the stylesheet, filled in by bots.
    website = forms.CharField(label=_("Leave this field empty"), required=False, widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_key())
        category_choices, self.categories = public_category_choices()
        region_choices, self.regions = public_region_choices()
        self.fields["category"].choices = category_choices  # type: ignore[attr-defined]
        self.fields["region"].choices = region_choices  # type: ignore[attr-defined]

    @property
    def is_spam(self) -> bool:
        """Whether the honeypot was filled in (a bot): answer as if accepted, record nothing."""
        return bool(self.data.get("website", "").strip())

    def submission(self, files: list[Any], language: str) -> services.SubmissionData:
        data = self.cleaned_data
        return services.SubmissionData(
            description=data["description"],
            category=self.categories[data["category"]],
            region=self.regions[data["region"]],
            address=data["address"],
            anonymous=data["anonymous"],
            name=data["name"],
            phone=data["phone"],
            may_call=data["may_call"],
            may_text=data["may_text"],
            safe_from=data["safe_from"],
            safe_until=data["safe_until"],
            request_type=data["request_type"],
            files=[services.SubmittedFile(name=item.name, data=item.read()) for item in files],
            language=language,
        )


class TrackingForm(forms.Form):
    """A tracking code, and optionally the PIN for the details."""

    code = forms.CharField(
        label=_("Tracking code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false", "placeholder": "XXXX-XXXX-XXXX-XXXX"}),
    )
    pin = forms.CharField(
        label=_("PIN (for the details)"),
        max_length=12,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )

    def clean_code(self) -> str:
        # A malformed code is answered like an unknown one (no hint of the format to a guesser).
        return str(self.cleaned_data["code"]).strip()

    @property
    def normalised_code(self) -> str:
        return codes.normalise(self.cleaned_data.get("code", "")) or self.cleaned_data.get("code", "").strip().upper()


class RegisteringUnitField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class ConfirmSubmissionForm(forms.Form):
    """Confirm a submission into a new case: the operator checks category, place and summary."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    unit = RegisteringUnitField(label=_("Registered by unit"), queryset=Unit.objects.none())
    request_type = forms.ChoiceField(label=_("Request type"), choices=RequestType.choices)
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.none())
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.none())
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea(attrs={"rows": 5}))
    address = forms.CharField(label=_("Address"), max_length=300, required=False)

    def __init__(self, *args: Any, user: Any, contact: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = access.units_with_capability(user, Capability.RECORD_CONTACTS) | access.units_with_capability(user, Capability.DISPATCH_CASES)
        self.fields["unit"].queryset = units.distinct().order_by("path")  # type: ignore[attr-defined]
        self.fields["category"].queryset = services.current_categories().order_by("sort_order", "code")  # type: ignore[attr-defined]
        self.fields["region"].queryset = access.visible_regions(user).order_by("path")  # type: ignore[attr-defined]
        if not self.is_bound:
            details = contact.submission
            self.initial.update(
                {
                    "idempotency_key": new_key(),
                    "unit": contact.unit_id,
                    "category": details.category_id,
                    "region": details.region_id,
                    "summary": contact.content,
                    "address": details.address,
                }
            )


class AttachSubmissionForm(forms.Form):
    """Attach a submission to an existing case, by its number."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    case_number = forms.CharField(label=_("Case number"), max_length=32)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not self.is_bound:
            self.initial["idempotency_key"] = new_key()

    def clean_case_number(self) -> Case:
        number = self.cleaned_data["case_number"].strip()
        case = Case.objects.visible_to(self.user).filter(number=number).first()
        if case is None:
            raise forms.ValidationError(_("No case with this number in your scope."))
        return case


class RejectSubmissionForm(forms.Form):
    """Do not accept a submission, with the reason she will read."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    reason = forms.CharField(
        label=_("Reason (the petitioner reads it with her code and PIN)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Write it for her: no names of staff, nothing she should not read."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["idempotency_key"] = new_key()
