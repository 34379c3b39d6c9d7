"""Routes of chasing: the supervision board, a supervisor's reminder, the unit's answer."""

from django.urls import path

from rightscare.supervision import board_views

urlpatterns = [
    path("supervision/board/", board_views.supervision_board, name="supervision_board"),
    path("supervision/work-orders/<int:pk>/remind/", board_views.supervision_remind, name="supervision_remind"),
    path("supervision/chases/<int:pk>/answer/", board_views.chase_answer, name="chase_answer"),
]
