from django.contrib import admin

from rightscare.integrations.models import OperatorExtension


@admin.register(OperatorExtension)
class OperatorExtensionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("extension", "user")
    search_fields = ("extension", "user__username")
    raw_id_fields = ("user",)
