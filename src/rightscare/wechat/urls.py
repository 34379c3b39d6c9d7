from django.urls import path

from rightscare.wechat import views

urlpatterns = [
    path("channels/wechat/", views.callback, name="wechat_callback"),
]
