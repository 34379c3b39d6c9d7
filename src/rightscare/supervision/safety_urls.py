"""Routes of safety follow-up: the list, and opening, reviewing and ending one."""

from django.urls import path

from rightscare.supervision import safety_views

urlpatterns = [
    path("safety/", safety_views.safety_list, name="safety_list"),
    path("cases/<int:pk>/safety/open/", safety_views.safety_open, name="safety_open"),
    path("safety/<int:pk>/review/", safety_views.safety_review, name="safety_review"),
    path("safety/<int:pk>/end/", safety_views.safety_end, name="safety_end"),
]
