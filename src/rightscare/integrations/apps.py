from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "rightscare.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from rightscare.integrations.models import WebhookSubscription
        from rightscare.integrations.services import forget_subscribers

        # A process that found no subscription trusts that for a few seconds; a change here ends it at once.
        post_save.connect(forget_subscribers, sender=WebhookSubscription, dispatch_uid="integrations.forget_subscribers.save")
        post_delete.connect(forget_subscribers, sender=WebhookSubscription, dispatch_uid="integrations.forget_subscribers.delete")
