from django.contrib.auth import views as auth_views
from django.urls import path

from rightscare.org import calendar_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", views.two_factor_setup, name="two_factor_setup"),
    path("accounts/two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("account/tokens/", views.token_list, name="token_list"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("org/regions/", views.region_list, name="region_list"),
    path("org/regions/new/", views.region_create, name="region_create"),
    path("org/regions/import/", views.region_import, name="region_import"),
    path("org/regions/export.csv", views.region_export, name="region_export"),
    path("org/regions/<int:pk>/", views.region_detail, name="region_detail"),
    path("org/regions/<int:pk>/edit/", views.region_edit, name="region_edit"),
    path("org/units/", views.unit_list, name="unit_list"),
    path("org/units/new/", views.unit_create, name="unit_create"),
    path("org/units/<int:pk>/", views.unit_detail, name="unit_detail"),
    path("org/units/<int:pk>/edit/", views.unit_edit, name="unit_edit"),
    path("org/users/", views.user_list, name="user_list"),
    path("org/users/new/", views.user_create, name="user_create"),
    path("org/users/<int:pk>/", views.user_detail, name="user_detail"),
    path("org/users/<int:pk>/edit/", views.user_edit, name="user_edit"),
    path("org/users/<int:pk>/id-number/", views.user_reveal_id_number, name="user_reveal_id_number"),
    path("org/users/<int:pk>/password/", views.user_set_password, name="user_set_password"),
    path("org/users/<int:pk>/grant/", views.membership_grant, name="membership_grant"),
    path("org/memberships/<int:pk>/revoke/", views.membership_revoke, name="membership_revoke"),
    path("org/calendars/", calendar_views.calendar_list, name="calendar_list"),
    path("org/calendars/new/", calendar_views.calendar_create, name="calendar_create"),
    path("org/calendars/<int:pk>/", calendar_views.calendar_detail, name="calendar_detail"),
    path("org/calendars/<int:pk>/edit/", calendar_views.calendar_edit, name="calendar_edit"),
    path("org/calendars/<int:pk>/delete/", calendar_views.calendar_delete, name="calendar_delete"),
    path("org/calendars/<int:pk>/days/", calendar_views.calendar_day_add, name="calendar_day_add"),
    path("org/calendars/<int:pk>/days/remove/", calendar_views.calendar_day_remove, name="calendar_day_remove"),
]
