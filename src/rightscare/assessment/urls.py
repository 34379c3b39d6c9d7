from django.urls import path

from rightscare.assessment import views

urlpatterns = [
    path("assessment/", views.assessment_table, name="assessment_table"),
    path("assessment/cases/", views.assessment_cases, name="assessment_cases"),
    path("assessment/export.csv", views.assessment_export, {"file_format": "csv"}, name="assessment_export_csv"),
    path("assessment/export.xlsx", views.assessment_export, {"file_format": "xlsx"}, name="assessment_export_xlsx"),
    path("assessment/cases/export.csv", views.assessment_cases_export, {"file_format": "csv"}, name="assessment_cases_export_csv"),
    path("assessment/cases/export.xlsx", views.assessment_cases_export, {"file_format": "xlsx"}, name="assessment_cases_export_xlsx"),
    path("assessment/exclusions/", views.exclusion_list, name="exclusion_list"),
    path("assessment/exclusions/new/<int:pk>/", views.exclusion_request, name="exclusion_request"),
    path("assessment/exclusions/<int:pk>/decide/", views.exclusion_decide, name="exclusion_decide"),
    path("assessment/weights/", views.weights, name="assessment_weights"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
