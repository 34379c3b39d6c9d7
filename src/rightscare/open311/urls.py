from django.urls import path

from rightscare.open311 import views
from rightscare.open311.api import open311_api

urlpatterns = [
    path("integrations/channel-keys/", views.channel_key_list, name="channel_key_list"),
    path("integrations/channel-keys/<int:pk>/revoke/", views.channel_key_revoke, name="channel_key_revoke"),
    path("open311/v2/", open311_api.urls),
]
