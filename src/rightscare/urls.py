"""URL routes: product pages, the API, health checks and (for superusers) the Django admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language

from rightscare.api import api
from rightscare.core import views as core_views

urlpatterns = [
    path("", include("rightscare.org.urls")),
    path("", include("rightscare.audit.urls")),
    path("healthz", core_views.healthz, name="healthz"),
    path("healthz/worker", core_views.healthz_worker, name="healthz_worker"),
    path("", include("rightscare.notifications.urls")),
    path("", include("rightscare.cases.urls")),
    path("", include("rightscare.intake.urls")),
    path("", include("rightscare.supervision.urls")),
    path("", include("rightscare.supervision.board_urls")),
    path("", include("rightscare.supervision.safety_urls")),
    path("", include("rightscare.assessment.urls")),
    path("", include("rightscare.petitioners.urls")),
    path("", include("rightscare.ratings.urls")),
    path("", include("rightscare.integrations.urls")),
    path("", include("rightscare.open311.urls")),
    path("", include("rightscare.wechat.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/catalog.js", JavaScriptCatalog.as_view(), name="javascript_catalog"),
    path("api/v1/", api.urls),
    path("django-admin/", admin.site.urls),
]

if settings.BENCH_FLOORS:
    # The intake benchmark's floors (bench/intake.py): mounted only on the benchmark's server.
    from rightscare.benchfloors.api import api as bench_floors_api

    urlpatterns.append(path("api/bench-floors/", bench_floors_api.urls))

handler400 = "rightscare.core.views.bad_request"
handler403 = "rightscare.core.views.permission_denied"
handler404 = "rightscare.core.views.page_not_found"
handler500 = "rightscare.core.views.server_error"
