from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "rightscare.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # The petitioner's events and the check before sending them must be known in every
        # process (web, worker, scripts), not only in those that happened to import the module.
        from rightscare.notifications import petitioner  # noqa: F401
