from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PetitionersConfig(AppConfig):
    name = "rightscare.petitioners"
    label = "petitioners"
    verbose_name = _("Petitioners: public submission and tracking")

    def ready(self) -> None:
        # Cases registered on the hotline screen get their tracking code in the same transaction.
        from rightscare.intake import services as intake_services
        from rightscare.petitioners.services import issue_code_for_taken_call

        if issue_code_for_taken_call not in intake_services.CALL_REGISTERED_HOOKS:
            intake_services.CALL_REGISTERED_HOOKS.append(issue_code_for_taken_call)
