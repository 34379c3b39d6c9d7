"""The Django admin, for superusers only; the product's own pages manage the organisation."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from rightscare.org.models import ApiToken, Membership, Region, Unit, UnitKind, User


@admin.register(User)
class RightsCareUserAdmin(UserAdmin):  # type: ignore[type-arg]
    fieldsets = (*(UserAdmin.fieldsets or ()), ("RightsCare", {"fields": ("full_name",)}))
    list_display = ("username", "full_name", "email", "is_active", "is_superuser")


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "level", "code", "path")
    search_fields = ("name", "code")
    readonly_fields = ("path", "depth")


@admin.register(UnitKind)
class UnitKindAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "name_en", "family")


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "region", "parent", "is_active")
    search_fields = ("name",)
    readonly_fields = ("path",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "unit", "role", "revoked_at")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "user", "prefix", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "digest")
