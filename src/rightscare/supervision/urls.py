from django.urls import path

from rightscare.supervision import views

urlpatterns = [
    path("cases/work-orders/<int:pk>/pause/", views.work_order_pause, name="work_order_pause"),
    path("cases/work-orders/<int:pk>/resume/", views.work_order_resume, name="work_order_resume"),
    path("cases/work-orders/<int:pk>/extension/", views.work_order_extension, name="work_order_extension"),
    path("cases/extensions/<int:pk>/", views.extension_decide, name="extension_decide"),
    path("cases/admin/deadlines/", views.clock_policy_list, name="clock_policy_list"),
    path("cases/admin/deadlines/new/", views.clock_policy_create, name="clock_policy_create"),
    path("cases/admin/deadlines/<int:pk>/edit/", views.clock_policy_edit, name="clock_policy_edit"),
    path("cases/admin/deadlines/<int:pk>/history/", views.clock_policy_history, name="clock_policy_history"),
]
