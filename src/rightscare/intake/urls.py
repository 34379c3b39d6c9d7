from django.urls import path

from rightscare.intake import views

urlpatterns = [
    path("intake/", views.take_call, name="intake"),
    path("intake/caller-history/", views.caller_history, name="intake_caller_history"),
    path("intake/checks/", views.screen_panel, name="intake_checks"),
    path("intake/contacts/", views.contact_list, name="intake_contact_list"),
    path("intake/contacts/<int:pk>/", views.contact_detail, name="intake_contact_detail"),
    path("intake/contacts/<int:pk>/attach/", views.contact_attach, name="intake_contact_attach"),
    path("intake/contacts/<int:pk>/detach/", views.contact_detach, name="intake_contact_detach"),
    path("intake/duty/", views.duty_overview, name="duty_overview"),
    path("intake/duty/<int:pk>/", views.duty_roster, name="duty_roster"),
    path("intake/duty/<int:pk>/add/", views.duty_add, name="duty_add"),
    path("intake/duty/shifts/<int:pk>/remove/", views.duty_remove, name="duty_remove"),
]
