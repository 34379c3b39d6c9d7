from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "rightscare.supervision"
    label = "supervision"
    verbose_name = _("Deadlines and supervision")

    def ready(self) -> None:
        # Deadlines computed on a working calendar follow its changes (see clocks.on_calendar_changed).
        from rightscare.org.calendar_services import on_calendar_change
        from rightscare.supervision.clocks import on_calendar_changed

        on_calendar_change(on_calendar_changed)
