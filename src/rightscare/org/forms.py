"""Forms of the organisation pages; choices are always limited to the user's scope."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from rightscare.core.idempotency import new_key
from rightscare.org import access
from rightscare.org.divisions import CodeScheme, RegionLevel
from rightscare.org.models import Region, Unit, UnitKind
from rightscare.org.roles import Role


class OnceForm(forms.Form):
    """A form that carries a submission key so a double click creates one record."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_key())


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("The username or password is wrong. Note that both are case-sensitive."),
        "inactive": _("This account has been deactivated."),
    }


class RegionChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        code = f" ({obj.code})" if obj.code else ""
        return f"{'· ' * obj.depth}{obj.display_name}{code}"


class UnitChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class RegionForm(OnceForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=150, required=False)
    level = forms.ChoiceField(label=_("Level"), choices=RegionLevel.choices)
    code_scheme = forms.ChoiceField(label=_("Code scheme"), choices=CodeScheme.choices, initial=CodeScheme.CN_STATS)
    code = forms.CharField(
        label=_("Official code"), max_length=32, required=False, help_text=_("Leave empty when the official code is not known; never invent one.")
    )
    parent = RegionChoiceField(label=_("Parent region"), queryset=Region.objects.none(), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = access.visible_regions(user).order_by("path")  # type: ignore[attr-defined]


class RegionImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("Columns: code, name, level, parent_code, name_en, code_scheme (UTF-8)."))

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > 20 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 20 MB."))
        try:
            return str(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise forms.ValidationError(_("The file is not UTF-8 text.")) from error


class UnitForm(OnceForm):
    name = forms.CharField(label=_("Name"), max_length=150)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    kind = forms.ModelChoiceField(label=_("Kind"), queryset=UnitKind.objects.all())
    region = RegionChoiceField(label=_("Region"), queryset=Region.objects.none())
    parent = UnitChoiceField(label=_("Parent unit"), queryset=Unit.objects.none(), required=False)
    duty_phone = forms.CharField(label=_("Duty phone"), max_length=32, required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = access.visible_regions(user).order_by("path")  # type: ignore[attr-defined]
        self.fields["parent"].queryset = access.manageable_units(user).order_by("path")  # type: ignore[attr-defined]


def _role_choices(roles: frozenset[Role]) -> list[tuple[str, Any]]:
    return [(role.value, role.label) for role in Role if role in roles]


class GrantRoleForm(OnceForm):
    unit = UnitChoiceField(label=_("Unit"), queryset=Unit.objects.none())
    role = forms.ChoiceField(label=_("Role"), choices=())

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = access.manageable_units(user).order_by("path")  # type: ignore[attr-defined]
        grantable = frozenset(Role) if access.has_global_role(user, Role.SYSTEM_ADMIN) else frozenset(Role) - frozenset({Role.SYSTEM_ADMIN, Role.AUDITOR})
        self.fields["role"].choices = _role_choices(grantable)  # type: ignore[attr-defined]


class ContactFieldsForm(forms.Form):
    """A phone number and an ID number, with the confirmation an ID-number warning needs.

    The confirmation checkbox is shown only after the service warned (see
    :meth:`ask_confirmation`); once ticked it comes back with the form.
    """

    phone = forms.CharField(
        label=_("Mobile phone"), max_length=64, required=False, help_text=_("Any usual form: 138 0013 8000, +86 138-0013-8000, 0755-2345 6789.")
    )
    id_number = forms.CharField(label=_("ID number"), max_length=64, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    confirm_warnings = forms.BooleanField(label=_("I have checked the ID number against the card: save it despite the warning"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not (self.is_bound and self.data.get("confirm_warnings")):
            del self.fields["confirm_warnings"]

    @property
    def confirmed(self) -> bool:
        """Whether the operator ticked the confirmation."""
        return bool(getattr(self, "cleaned_data", {}).get("confirm_warnings"))

    def ask_confirmation(self) -> None:
        """Offer the confirmation checkbox (unticked) after a warning."""
        self.fields["confirm_warnings"] = copy.deepcopy(ContactFieldsForm.base_fields["confirm_warnings"])
        self.order_fields(self.field_order)


class UserCreateForm(GrantRoleForm, ContactFieldsForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    full_name = forms.CharField(label=_("Full name"), max_length=100)
    email = forms.EmailField(label=_("E-mail"), required=False)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}), strip=False)

    field_order = ["username", "full_name", "email", "phone", "id_number", "confirm_warnings", "password", "unit", "role"]


class UserEditForm(ContactFieldsForm):
    """The account card of a user's page. The ID number is never filled in: empty keeps it."""

    full_name = forms.CharField(label=_("Full name"), max_length=100)
    email = forms.EmailField(label=_("E-mail"), required=False)
    is_active = forms.BooleanField(label=_("May log in"), required=False)
    remove_id_number = forms.BooleanField(label=_("Remove the ID number"), required=False)

    field_order = ["full_name", "email", "phone", "id_number", "confirm_warnings", "remove_id_number", "is_active"]

    def __init__(self, *args: Any, has_id_number: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if has_id_number:
            self.fields["id_number"].help_text = _("A number is on file. Leave this empty to keep it, or type a new one to replace it.")
        else:
            del self.fields["remove_id_number"]

    def contact_changes(self) -> tuple[str, str | None]:
        """The phone and ID number to pass to ``set_user_contact`` (None: keep the ID number)."""
        data = self.cleaned_data
        if data.get("remove_id_number"):
            return data["phone"], ""
        return data["phone"], data["id_number"] or None


class PasswordForm(forms.Form):
    password = forms.CharField(label=_("New password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)


class TokenForm(OnceForm):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_('What the program using it is, e.g. "12345 bridge".'))
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=366, initial=90)


class OtpForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\s*\d{6}\s*$",
        max_length=8,
        error_messages={"invalid": _("Enter the six digits your app shows.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
