from django.urls import path

from rightscare.notifications import views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read-all/", views.inbox_read_all, name="inbox_read_all"),
    path("inbox/<int:pk>/read/", views.inbox_read, name="inbox_read"),
    path("notifications/failed/", views.outbox, name="outbox"),
    path("notifications/messages/<int:pk>/retry/", views.outbox_retry, name="outbox_retry"),
    path("notifications/templates/", views.message_template_list, name="message_template_list"),
    path("notifications/templates/new/", views.message_template_create, name="message_template_create"),
    path("notifications/templates/<int:pk>/", views.message_template_edit, name="message_template_edit"),
    path("notifications/templates/<int:pk>/delete/", views.message_template_delete, name="message_template_delete"),
]
