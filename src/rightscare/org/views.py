"""Pages of the organisation: home, sign-in, two-factor, regions, units, users, API tokens."""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.audit.signals import client_address
from rightscare.core import identity
from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.org import access, selectors, services
from rightscare.org.divisions import RegionLevel
from rightscare.org.forms import (
    ContactFieldsForm,
    GrantRoleForm,
    LoginForm,
    OtpForm,
    PasswordForm,
    RegionForm,
    RegionImportForm,
    TokenForm,
    UnitForm,
    UserCreateForm,
    UserEditForm,
)
from rightscare.org.http import StaffRequest
from rightscare.org.models import ApiToken, Membership, Unit, UnitKind, User
from rightscare.org.roles import CAPABILITIES, Capability, Role

PAGE_SIZE = 50


def _require(request: StaffRequest, capability: Capability) -> None:
    if not access.has_capability(request.user, capability):
        raise PermissionDenied


# --- sign-in ------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "org/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["idle_logout"] = self.request.session.pop("rightscare_idle_logout", False)
        return context


def lockout_response(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
    """What django-axes answers after too many failed sign-ins: the login page with a clear message."""
    form = LoginForm(request)
    return render(request, "org/login.html", {"form": form, "locked_out": True}, status=429)


@login_required
def home(request: StaffRequest) -> HttpResponse:
    """Who I am, my units and roles, and what I may do."""
    memberships = list(Membership.objects.active().filter(user=request.user).select_related("unit__kind", "unit__region").order_by("unit__path", "role"))
    capabilities = access.capabilities_of(request.user)
    roles = sorted({Role(m.role) for m in memberships}, key=list(Role).index)
    return render(
        request,
        "org/home.html",
        {
            "memberships": memberships,
            "capabilities": [c for c in Capability if c in capabilities],
            "role_capabilities": [(role, [c for c in Capability if c in CAPABILITIES[role]]) for role in roles],
        },
    )


# --- two-factor -----------------------------------------------------------------


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@login_required
def two_factor_setup(request: StaffRequest) -> HttpResponse:
    """Set up a TOTP authenticator: scan the code, confirm with one code."""
    user: Any = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].strip()):
            with transaction.atomic():
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
                audit.record(
                    actor=user,
                    action=AuditAction.UPDATE,
                    event="auth.two_factor_enabled",
                    obj=user,
                    unit=access.acting_unit(user),
                    changes={"two_factor": audit.CHANGED},
                    ip_address=client_address(request),
                )
            otp_login(request, device)
            messages.success(request, _("Two-factor sign-in is on."))
            return redirect("home")
        form.add_error("code", _("This code is not valid. Check the time on your phone and try again."))
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    qr_data = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    return render(
        request, "org/two_factor_setup.html", {"form": form, "qr_data": qr_data, "secret": base64.b32encode(device.bin_key).decode(), "already_on": confirmed}
    )


@login_required
def two_factor_verify(request: StaffRequest) -> HttpResponse:
    """The second step of signing in, for a user with a confirmed device."""
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["code"].strip())
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(_safe_next(request, reverse("home")))
        form.add_error("code", _("This code is not valid. Check the time on your phone and try again."))
    return render(request, "org/two_factor_verify.html", {"form": form, "next": _safe_next(request, "")})


# --- regions ----------------------------------------------------------------------


@login_required
def region_list(request: StaffRequest) -> HttpResponse:
    """Regions in scope, searchable by name or code and filterable by level."""
    _require(request, Capability.VIEW_ORGANISATION)
    regions = access.visible_regions(request.user).order_by("path")
    query = request.GET.get("q", "").strip()
    level = request.GET.get("level", "")
    if query:
        regions = regions.filter(Q(name__contains=query) | Q(code__startswith=query) | Q(name_en__icontains=query))
    if level in RegionLevel.values:
        regions = regions.filter(level=level)
    page = Paginator(regions.annotate(unit_count=Count("units")), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "query": query, "level": level, "levels": RegionLevel.choices, "may_manage": access.may_manage_regions(request.user)}
    template = "org/region_list.html#results" if request.htmx else "org/region_list.html"
    return render(request, template, context)


@login_required
def region_detail(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.VIEW_ORGANISATION)
    region = access.access_region(request.user, pk)
    visible = access.visible_regions(request.user)
    ancestors = visible.filter(pk__in=region.ancestor_ids()[:-1]).order_by("depth")
    children = visible.filter(parent=region).order_by("code", "name")
    units = access.visible_units(request.user).filter(region=region).select_related("kind").order_by("path")
    return render(
        request,
        "org/region_detail.html",
        {"region": region, "ancestors": ancestors, "children": children, "units": units, "may_manage": access.may_manage_regions(request.user)},
    )


def _region_form_view(request: StaffRequest, *, region: Any = None) -> HttpResponse:
    if not access.may_manage_regions(request.user):
        raise PermissionDenied
    initial = {}
    if region is not None:
        initial = {
            "name": region.name,
            "name_en": region.name_en,
            "level": region.level,
            "code_scheme": region.code_scheme,
            "code": region.code,
            "parent": region.parent,
        }
    elif request.GET.get("parent"):
        initial = {"parent": access.visible_regions(request.user).filter(pk=request.GET["parent"]).first()}
    form = RegionForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("name", "name_en", "level", "code_scheme", "code", "parent")}
        try:
            if region is None:
                result, _ran = run_once(
                    user_id=request.user.pk,
                    scope="page:create_region",
                    key=data["idempotency_key"],
                    create=lambda: str(services.create_region(by=request.user, **fields).pk),
                )
                messages.success(request, _("The region has been created."))
                return redirect("region_detail", pk=int(result))
            services.update_region(by=request.user, region=region, **fields)
            messages.success(request, _("The region has been saved."))
            return redirect("region_detail", pk=region.pk)
        except ValidationError as error:
            apply_errors(form, error)
    return render(request, "org/region_form.html", {"form": form, "region": region}, status=422 if form.errors else 200)


@login_required
def region_create(request: StaffRequest) -> HttpResponse:
    return _region_form_view(request)


@login_required
def region_edit(request: StaffRequest, pk: int) -> HttpResponse:
    region = access.access_region(request.user, pk)
    return _region_form_view(request, region=region)


@login_required
def region_import(request: StaffRequest) -> HttpResponse:
    """Upload a CSV of regions; all rows are checked and either all or none are imported."""
    if not access.may_manage_regions(request.user):
        raise PermissionDenied
    form = RegionImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        report = services.import_regions(by=request.user, text=form.cleaned_data["file"])
        if report.ok:
            messages.success(request, _("Imported: %(created)d created, %(updated)d updated.") % {"created": report.created, "updated": report.updated})
            return redirect("region_list")
    status = 422 if (form.errors or (report and not report.ok)) else 200
    return render(request, "org/region_import.html", {"form": form, "report": report}, status=status)


@login_required
def region_export(request: StaffRequest) -> HttpResponse:
    _require(request, Capability.VIEW_ORGANISATION)
    stamp = timezone.localtime().strftime("%Y%m%d")
    response = HttpResponse(services.export_regions(by=request.user), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="regions-{stamp}.csv"'
    return response


# --- units ----------------------------------------------------------------------


@login_required
def unit_list(request: StaffRequest) -> HttpResponse:
    _require(request, Capability.VIEW_ORGANISATION)
    units = access.visible_units(request.user).select_related("kind", "region", "parent").order_by("path")
    query = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if query:
        units = units.filter(Q(name__contains=query) | Q(name_en__icontains=query))
    if kind:
        units = units.filter(kind__code=kind)
    page = Paginator(units, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "query": query,
        "kind": kind,
        "kinds": UnitKind.objects.all(),
        "may_create": access.manageable_units(request.user).exists() and access.has_capability(request.user, Capability.MANAGE_UNITS),
    }
    template = "org/unit_list.html#results" if request.htmx else "org/unit_list.html"
    return render(request, template, context)


@login_required
def unit_detail(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.VIEW_ORGANISATION)
    unit = access.access_unit(request.user, pk)
    manages = access.manageable_units(request.user).filter(pk=unit.pk).exists()
    members = Membership.objects.active().filter(unit=unit).select_related("user").order_by("user__username", "role") if manages else None
    children = access.visible_units(request.user).filter(parent=unit).select_related("kind").order_by("name")
    return render(request, "org/unit_detail.html", {"unit": unit, "members": members, "children": children, "manages": manages})


def _unit_form_view(request: StaffRequest, *, unit: Unit | None = None) -> HttpResponse:
    _require(request, Capability.MANAGE_UNITS)
    initial: dict[str, Any] = {}
    if unit is not None:
        if not access.manageable_units(request.user).filter(pk=unit.pk).exists():
            raise PermissionDenied
        initial = {k: getattr(unit, k) for k in ("name", "name_en", "kind", "region", "parent", "duty_phone", "is_active")}
    elif request.GET.get("parent"):
        parent = access.manageable_units(request.user).filter(pk=request.GET["parent"]).first()
        initial = {"parent": parent, "region": parent.region if parent else None}
    form = UnitForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("name", "name_en", "kind", "region", "parent", "duty_phone")}
        try:
            if unit is None:
                result, _ran = run_once(
                    user_id=request.user.pk,
                    scope="page:create_unit",
                    key=data["idempotency_key"],
                    create=lambda: str(services.create_unit(by=request.user, **fields).pk),
                )
                messages.success(request, _("The unit has been created."))
                return redirect("unit_detail", pk=int(result))
            services.update_unit(by=request.user, unit=unit, is_active=data["is_active"], **fields)
            messages.success(request, _("The unit has been saved."))
            return redirect("unit_detail", pk=unit.pk)
        except ValidationError as error:
            apply_errors(form, error)
    return render(request, "org/unit_form.html", {"form": form, "unit": unit}, status=422 if form.errors else 200)


@login_required
def unit_create(request: StaffRequest) -> HttpResponse:
    return _unit_form_view(request)


@login_required
def unit_edit(request: StaffRequest, pk: int) -> HttpResponse:
    unit = access.access_unit(request.user, pk)
    return _unit_form_view(request, unit=unit)


# --- users ----------------------------------------------------------------------


@login_required
def user_list(request: StaffRequest) -> HttpResponse:
    """Users in scope, searchable by username or name, or found by their exact phone number.

    The phone search is a POST, so that the number never lands in a URL, the
    browser history or an access log.
    """
    _require(request, Capability.MANAGE_USERS)
    users = access.visible_users(request.user).order_by("username")
    query = request.GET.get("q", "").strip()
    phone = request.POST.get("phone", "").strip() if request.method == "POST" else ""
    phone_error = ""
    if phone:
        try:
            users = selectors.find_users_by_phone(by=request.user, phone=phone).order_by("username")
        except ValidationError as error:
            phone_error = " ".join(error.message_dict["phone"])
            users = users.none()
    if query:
        users = users.filter(Q(username__icontains=query) | Q(full_name__contains=query))
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "org/user_list.html#results" if request.htmx else "org/user_list.html"
    context = {"page": page, "query": query, "phone": phone, "phone_error": phone_error}
    return render(request, template, context, status=422 if phone_error else 200)


def _render_user_detail(request: StaffRequest, person: User, *, edit_form: UserEditForm | None = None, id_number: str = "", status: int = 200) -> HttpResponse:
    """The user's page: her phone in full (an audited read), her ID number masked unless ``id_number`` is given.

    ``id_number`` is passed only by :func:`user_reveal_id_number`, which audited that read.
    """
    memberships = person.memberships.select_related("unit", "granted_by", "revoked_by").order_by("revoked_at", "unit__path")
    managed_ids = set(access.manageable_units(request.user).values_list("pk", flat=True))
    rows = [(m, m.revoked_at is None and m.unit_id in managed_ids and Role(m.role) in access.grantable_roles(request.user, m.unit)) for m in memberships]
    phone = services.read_user_contact(by=request.user, user=person, fields=("phone",))["phone"]
    if edit_form is None:
        initial = {"full_name": person.full_name, "email": person.email, "is_active": person.is_active, "phone": identity.format_phone(phone)}
        edit_form = UserEditForm(initial=initial, has_id_number=bool(person.id_number))
    return render(
        request,
        "org/user_detail.html",
        {
            "person": person,
            "rows": rows,
            "phone": identity.format_phone(phone),
            "id_number_masked": identity.mask_id_number(person.id_number),
            "id_number": id_number,
            "grant_form": GrantRoleForm(user=request.user),
            "edit_form": edit_form,
            "password_form": PasswordForm(),
        },
        status=status,
    )


@login_required
def user_detail(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.MANAGE_USERS)
    person = access.access_managed_user(request.user, pk)
    return _render_user_detail(request, person)


@login_required
@require_POST
def user_reveal_id_number(request: StaffRequest, pk: int) -> HttpResponse:
    """Show a user's full ID number, once, and record in the audit log who saw it.

    A POST, because looking is an audited act; htmx gets the ID-number fragment, a
    plain form the whole page.
    """
    _require(request, Capability.MANAGE_USERS)
    person = access.access_managed_user(request.user, pk)
    id_number = services.read_user_contact(by=request.user, user=person, fields=("id_number",))["id_number"]
    if request.htmx:
        context = {"person": person, "id_number": id_number, "id_number_masked": identity.mask_id_number(id_number)}
        return render(request, "org/user_detail.html#id_number", context)
    return _render_user_detail(request, person, id_number=id_number)


def _offer_confirmation(form: ContactFieldsForm, error: ValidationError) -> None:
    """Show the service's errors and, for an ID-number warning, the confirmation checkbox."""
    apply_errors(form, error)
    if hasattr(error, "error_dict") and any(e.code == services.NEEDS_CONFIRMATION for e in error.error_dict.get("id_number", [])):
        form.ask_confirmation()


@login_required
def user_create(request: StaffRequest) -> HttpResponse:
    _require(request, Capability.MANAGE_USERS)
    form = UserCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result, _ran = run_once(
                user_id=request.user.pk,
                scope="page:create_user",
                key=data["idempotency_key"],
                create=lambda: str(
                    services.create_user(
                        by=request.user,
                        username=data["username"],
                        full_name=data["full_name"],
                        email=data["email"],
                        password=data["password"],
                        unit=data["unit"],
                        role=data["role"],
                        phone=data["phone"],
                        id_number=data["id_number"],
                        confirm_warnings=form.confirmed,
                    ).pk
                ),
            )
            messages.success(request, _("The user has been created."))
            return redirect("user_detail", pk=int(result))
        except ValidationError as error:
            _offer_confirmation(form, error)
        except PermissionDenied:
            form.add_error("role", _("You may not grant this role in this unit."))
    return render(request, "org/user_form.html", {"form": form}, status=422 if form.errors else 200)


@login_required
@require_POST
def user_edit(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.MANAGE_USERS)
    person = access.access_managed_user(request.user, pk)
    form = UserEditForm(request.POST, has_id_number=bool(person.id_number))
    if form.is_valid():
        data = form.cleaned_data
        phone, id_number = form.contact_changes()
        try:
            # One transaction: a refused phone or ID number leaves the name unchanged too.
            with transaction.atomic():
                services.update_user(by=request.user, user=person, full_name=data["full_name"], email=data["email"], is_active=data["is_active"])
                services.set_user_contact(by=request.user, user=person, phone=phone, id_number=id_number, confirm_warnings=form.confirmed)
            messages.success(request, _("The user has been saved."))
            return redirect("user_detail", pk=person.pk)
        except ValidationError as error:
            person.refresh_from_db()
            _offer_confirmation(form, error)
    return _render_user_detail(request, person, edit_form=form, status=422)


@login_required
@require_POST
def user_set_password(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.MANAGE_USERS)
    person = access.access_managed_user(request.user, pk)
    form = PasswordForm(request.POST)
    if form.is_valid():
        try:
            services.set_password(by=request.user, user=person, password=form.cleaned_data["password"])
            messages.success(request, _("The password has been changed."))
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
    else:
        messages.error(request, _("Enter a new password."))
    return redirect("user_detail", pk=person.pk)


@login_required
@require_POST
def membership_grant(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.MANAGE_USERS)
    person = access.access_managed_user(request.user, pk)
    form = GrantRoleForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            run_once(
                user_id=request.user.pk,
                scope="page:grant_role",
                key=data["idempotency_key"],
                create=lambda: str(services.grant_role(by=request.user, user=person, unit=data["unit"], role=data["role"]).pk),
            )
            messages.success(request, _("The role has been granted."))
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        except PermissionDenied:
            messages.error(request, _("You may not grant this role in this unit."))
    else:
        messages.error(request, _("You may not grant this role in this unit."))
    return redirect("user_detail", pk=person.pk)


@login_required
@require_POST
def membership_revoke(request: StaffRequest, pk: int) -> HttpResponse:
    _require(request, Capability.MANAGE_USERS)
    membership = get_object_or_404(Membership.objects.filter(user__in=access.visible_users(request.user)).select_related("unit", "user"), pk=pk)
    try:
        services.revoke_membership(by=request.user, membership=membership)
        messages.success(request, _("The role has been revoked."))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("user_detail", pk=membership.user_id)


# --- API tokens -------------------------------------------------------------------


@login_required
def token_list(request: StaffRequest) -> HttpResponse:
    """My API tokens; a new token is shown once, right after it is created."""
    form = TokenForm(request.POST or None)
    shown: str | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created: dict[str, str] = {}

        def create() -> str:
            token, plain = services.create_api_token(by=request.user, name=data["name"], days=data["days"])
            created["plain"] = plain
            return str(token.pk)

        try:
            _result, ran = run_once(user_id=request.user.pk, scope="page:create_token", key=data["idempotency_key"], create=create)
            if ran:
                shown = created["plain"]
                form = TokenForm()
            else:
                messages.info(request, _("This token was already created; its value was shown once."))
        except ValidationError as error:
            apply_errors(form, error)
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "org/token_list.html", {"form": form, "tokens": tokens, "shown": shown}, status=422 if form.errors else 200)


@login_required
@require_POST
def token_revoke(request: StaffRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.revoke_api_token(by=request.user, token=token)
    messages.success(request, _("The token has been revoked."))
    return redirect("token_list")
