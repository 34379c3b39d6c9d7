from django.urls import path

from rightscare.integrations import views

urlpatterns = [
    path("channels/cti/events", views.cti_events, name="cti_events"),
    path("intake/cti/call/", views.cti_popup, name="cti_popup"),
    path("integrations/webhooks/", views.webhook_list, name="webhook_list"),
    path("integrations/webhooks/new/", views.webhook_create, name="webhook_create"),
    path("integrations/webhooks/<int:pk>/", views.webhook_edit, name="webhook_edit"),
    path("integrations/deliveries/", views.delivery_list, name="delivery_list"),
    path("integrations/deliveries/<int:pk>/", views.delivery_detail, name="delivery_detail"),
    path("integrations/deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery_retry"),
    path("integrations/extensions/", views.extension_list, name="extension_list"),
    path("integrations/extensions/<int:pk>/remove/", views.extension_remove, name="extension_remove"),
]
