from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "rightscare.audit"
    label = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from rightscare.audit import signals

        user_logged_in.connect(signals.on_logged_in, dispatch_uid="rightscare.audit.logged_in")
        user_logged_out.connect(signals.on_logged_out, dispatch_uid="rightscare.audit.logged_out")
        user_login_failed.connect(signals.on_login_failed, dispatch_uid="rightscare.audit.login_failed")
