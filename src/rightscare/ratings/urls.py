from django.urls import path

from rightscare.ratings import views

urlpatterns = [
    path("ratings/return-visits/", views.return_visit_queue, name="return_visit_queue"),
    path("ratings/rounds/<int:pk>/visit/", views.return_visit_record, name="return_visit_record"),
    path("cases/<int:pk>/rework/", views.case_rework, name="case_rework"),
    path("ratings/public/rate/", views.public_rating_submit, name="public_rating_submit"),
]
