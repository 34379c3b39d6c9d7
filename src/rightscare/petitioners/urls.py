from django.urls import path

from rightscare.petitioners import views

urlpatterns = [
    path("submit/", views.submit, name="public_submit"),
    path("track/", views.track, name="public_track"),
    path("intake/submissions/", views.queue, name="submission_queue"),
    path("intake/submissions/<int:pk>/", views.detail, name="submission_detail"),
    path("intake/submissions/<int:pk>/confirm/", views.confirm, name="submission_confirm"),
    path("intake/submissions/<int:pk>/attach/", views.attach, name="submission_attach"),
    path("intake/submissions/<int:pk>/reject/", views.reject, name="submission_reject"),
    path("intake/submissions/files/<int:pk>/", views.file_download, name="submission_file"),
]
