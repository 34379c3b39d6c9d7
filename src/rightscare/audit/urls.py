from django.urls import path

from rightscare.audit import views

urlpatterns = [
    path("audit/", views.entry_list, name="audit_list"),
    path("audit/export.csv", views.entry_export, name="audit_export"),
    path("audit/<int:pk>/", views.entry_detail, name="audit_detail"),
]
