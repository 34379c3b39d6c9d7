"""Every page and every API operation, for every persona: the exact status, written out.

The routes are enumerated from the URL resolver and from the OpenAPI documents the
project serves, so a new page or operation without a row here fails
``test_every_route_has_a_row``. The expected statuses are literal: they are never
computed by calling ``org.access`` or the views' own checks. A denied request
must change nothing.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from rightscare.api import api
from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.core import workers
from rightscare.core.identity import build_id_number
from rightscare.notifications import services as notifications
from rightscare.notifications.models import Message, MessageTemplate
from rightscare.org import calendar_services, services
from rightscare.org.calendar_models import CalendarException, WorkingCalendar
from rightscare.org.models import ApiToken, Membership, Region, Unit, User
from tests.case_scenarios import build_case_targets, case_fingerprint, case_operation_body, case_operation_url
from tests.conftest import log_in
from tests.factories import OrgTree, build_org_tree, build_personas
from tests.supervision.chasing_helpers import chase_target
from tests.supervision.safety_helpers import safety_fingerprint, safety_targets

PERSONAS = (
    "anon",
    "operator",
    "operator_twin",
    "dispatcher",
    "dispatcher_twin",
    "handler",
    "handler_twin",
    "department_handler",
    "department_handler_twin",
    "community_worker",
    "community_worker_twin",
    "volunteer",
    "volunteer_twin",
    "return_visit",
    "supervisor",
    "supervisor_twin",
    "unit_admin",
    "unit_admin_twin",
    "system_admin",
    "auditor",
)

# Column order is PERSONAS. Targets: region = Pingshan district, unit = Pingshan street
# federation, user = the Pingshan street handler, token = the system administrator's.
#                                        anon op  op2 dis dis2 h  h2  dh  dh2 cw  cw2 vol vol2 rv sup sup2 ua ua2 sa  aud
# fmt: off
PAGES: dict[tuple[str, str], str] = {
    ("GET", "home"):                     "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "login"):                    "200 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("POST", "logout"):                  "302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("GET", "two_factor_setup"):         "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "two_factor_verify"):        "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "token_list"):               "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "token_revoke"):            "302 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 302 404",
    ("GET", "region_list"):              "302 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "region_create"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "region_import"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "region_export"):            "302 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "region_detail"):            "302 200 404 200 404 200 404 200 404 200 404 403 403 200 200 404 200 404 200 200",
    ("GET", "region_edit"):              "302 403 404 403 404 403 404 403 404 403 404 404 404 403 403 404 403 404 200 403",
    ("GET", "unit_list"):                "302 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "unit_create"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 200 403",
    ("GET", "unit_detail"):              "302 200 404 200 404 200 404 404 404 404 404 403 403 200 200 404 200 404 200 200",
    ("GET", "unit_edit"):                "302 403 404 403 404 403 404 404 404 404 404 404 404 403 403 404 200 404 200 403",
    ("GET", "user_list"):                "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 200 403",
    ("GET", "user_create"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 200 403",
    ("GET", "user_detail"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 404 200 403",
    ("POST", "user_edit"):               "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("POST", "user_reveal_id_number"):   "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 404 200 403",
    ("POST", "user_set_password"):       "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("POST", "membership_grant"):        "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("POST", "membership_revoke"):       "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 404 302 403",
    ("GET", "calendar_list"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "calendar_create"):          "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "calendar_detail"):          "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "calendar_edit"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "calendar_delete"):         "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    ("POST", "calendar_day_add"):        "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    ("POST", "calendar_day_remove"):     "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    ("GET", "audit_list"):               "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200",
    ("GET", "audit_detail"):             "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200",
    ("GET", "audit_export"):             "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200",
    ("GET", "healthz"):                  "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "healthz_worker"):           "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "inbox"):                    "302 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "inbox_read_all"):          "302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("POST", "inbox_read"):              "302 404 404 404 404 302 404 404 404 404 404 404 404 404 404 404 404 404 404 404",
    ("GET", "outbox"):                   "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "outbox_retry"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    ("GET", "message_template_list"):    "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "message_template_create"):  "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "message_template_edit"):    "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "message_template_delete"): "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    ("GET", "case_search"):              "302 200 200 200 200 200 200 200 200 403 403 403 403 200 200 200 403 403 403 403",
    ("GET", "dispatch_queues"):          "302 403 403 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "work_order_inbox"):         "302 403 403 200 200 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "case_detail"):              "302 200 404 200 404 200 404 200 404 404 404 404 404 200 200 404 404 404 404 404",
    ("GET", "case_timeline"):            "302 200 404 200 404 200 404 200 404 404 404 404 404 200 200 404 404 404 404 404",
    ("GET", "case_dispatch"):            "302 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "case_transfer"):            "302 403 404 200 404 403 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "case_merge"):               "302 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "case_unmerge"):             "302 403 404 200 404 403 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "case_decline"):             "302 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "case_close"):               "302 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "attachment_upload"):        "302 200 404 200 404 200 404 200 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "attachment_download"):      "302 200 404 200 404 200 404 200 404 404 404 404 404 200 200 404 404 404 404 404",
    ("GET", "transfer_decide"):          "302 404 404 404 200 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404",
    ("POST", "work_order_sign_for"):     "302 403 404 403 404 302 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_return"):       "302 403 404 403 404 302 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_rule_return"):  "302 403 404 302 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_first_contact"): "302 403 404 403 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_note"):         "302 403 404 403 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_complete"):     "302 403 404 403 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_review"):       "302 403 404 302 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "work_order_forward"):       "302 403 404 403 404 200 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "rule_list"):                "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "rule_create"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "rule_edit"):                "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "rule_retire"):              "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "rule_history"):             "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "category_list"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "category_create"):          "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "category_edit"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "category_history"):         "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "work_order_pause"):        "302 403 404 403 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_resume"):       "302 403 404 302 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "work_order_extension"):    "302 403 404 403 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    # The sending unit's dispatcher decides; so does a supervisor over the area (the Pingshan one).
    ("GET", "extension_decide"):         "302 403 404 200 404 403 404 404 404 404 404 404 404 403 200 404 404 404 404 404",
    ("GET", "clock_policy_list"):        "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "clock_policy_create"):      "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "clock_policy_edit"):        "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "clock_policy_history"):     "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "intake"):                   "302 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "intake"):                  "302 422 422 422 422 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "intake_caller_history"):   "302 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "intake_checks"):           "302 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "intake_contact_list"):      "302 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "intake_contact_detail"):    "302 200 404 200 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "intake_contact_attach"):   "302 302 404 302 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "intake_contact_detach"):   "302 302 404 302 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "duty_overview"):            "302 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "duty_roster"):              "302 200 404 200 404 404 404 404 404 404 404 403 403 200 200 404 200 404 200 200",
    ("POST", "duty_add"):                "302 403 404 302 404 404 404 404 404 404 404 403 403 403 403 404 302 404 302 403",
    ("POST", "duty_remove"):             "302 403 404 302 404 404 404 404 404 404 404 403 403 403 403 404 302 404 302 403",
    # The petitioner's public pages need no login; the intake queue is for those who take intake, each seeing the
    # submissions sent to her units or located in her federation's area (the target is located in Pingshan).
    ("GET", "public_submit"):            "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "public_track"):             "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "submission_queue"):         "302 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "submission_detail"):        "302 200 404 200 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "submission_confirm"):      "302 302 404 302 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "submission_attach"):       "302 302 404 302 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "submission_reject"):       "302 302 404 302 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "submission_file"):          "302 200 404 200 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    # Chasing: only supervisors open the board; a reminder on a Pingshan street order is the Pingshan supervisor's,
    # the answer to her reminder the street federation's (its case went to the street alone: the HR bureau sees nothing).
    ("GET", "supervision_board"):        "302 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("POST", "supervision_remind"):      "302 403 404 403 404 403 404 403 404 404 404 404 404 403 302 404 404 404 404 404",
    ("POST", "chase_answer"):            "302 403 404 403 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    # Safety follow-up: opened on the Pingshan street's domestic-violence case, reviewed and ended on the resolved one.
    ("GET", "safety_list"):              "302 403 403 200 200 200 200 200 200 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "safety_open"):              "302 403 404 200 404 200 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "safety_open"):             "302 403 404 302 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "safety_review"):            "302 403 404 200 404 200 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "safety_review"):           "302 403 404 302 404 302 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "safety_end"):               "302 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "safety_end"):              "302 403 404 302 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "set_language"):            "302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("GET", "javascript_catalog"):       "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "django-admin/"):            "302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302 302",
    ("GET", "api/v1/openapi.json"):      "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "api/v1/docs"):              "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    # Assessment: supervisors and the federations' dispatchers read their own scope (the twins theirs);
    # units that handle or dispatch work ask for exclusions, supervisors decide (never their own).
    ("GET", "assessment_table"):         "302 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "assessment_cases"):         "302 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "assessment_export_csv"):    "302 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "assessment_export_xlsx"):   "302 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "assessment_cases_export_csv"): "302 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "assessment_cases_export_xlsx"): "302 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "dashboard"):                "302 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "exclusion_list"):           "302 403 403 200 200 200 200 200 200 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "exclusion_request"):        "302 403 404 200 404 200 404 200 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "exclusion_decide"):        "302 403 404 403 404 403 404 404 404 404 404 404 404 403 302 404 404 404 404 404",
    ("POST", "assessment_weights"):      "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    # Integrations: the telephony system's callback answers 403 to anything unsigned, signed in or not; the call
    # pop-up is for those who take calls; webhooks, the delivery log and the extensions are the administrators'.
    ("POST", "cti_events"):              "403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "cti_popup"):                "302 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "webhook_list"):             "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "webhook_create"):           "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "webhook_edit"):             "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "delivery_list"):            "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "delivery_detail"):          "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "delivery_retry"):          "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    ("GET", "extension_list"):           "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "extension_remove"):        "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    ("GET", "channel_key_list"):         "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "channel_key_revoke"):      "302 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 302 403",
    # Open311 (its own API: the operations are in OPEN311_OPERATIONS below); its document and docs page are public.
    ("GET", "open311/v2/openapi.json"):  "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "open311/v2/docs"):          "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    # The WeChat official account's callback: WeChat's signature alone authenticates it; unsigned, everyone gets 403.
    ("GET", "wechat_callback"):          "403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "wechat_callback"):         "403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    # Ratings: the city's return-visit officer (not a handling unit) calls back about the Pingshan case its
    # petitioner rated "not solved"; the dispatching Pingshan federation sends it back for rework. The public
    # rating form needs no login: its signed token names the case and the round.
    ("GET", "return_visit_queue"):       "302 403 403 403 403 403 403 403 403 403 403 403 403 200 403 403 403 403 403 403",
    ("GET", "return_visit_record"):      "302 403 404 403 404 403 404 404 404 404 404 404 404 200 403 404 404 404 404 404",
    ("GET", "case_rework"):              "302 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "public_rating_submit"):    "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
}

#                                                    anon op  op2 dis dis2 h  h2  dh  dh2 cw  cw2 vol vol2 rv sup sup2 ua ua2 sa  aud
OPERATIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/me"):                           "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("PATCH", "/api/v1/me"):                         "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/api/v1/regions"):                      "401 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "/api/v1/regions/{region_id}"):          "401 200 404 200 404 200 404 200 404 200 404 403 403 200 200 404 200 404 200 200",
    ("GET", "/api/v1/units"):                        "401 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "/api/v1/calendars"):                    "401 200 200 200 200 200 200 200 200 200 200 403 403 200 200 200 200 200 200 200",
    ("GET", "/api/v1/calendars/{calendar_id}"):      "401 200 404 200 404 200 404 200 404 200 404 403 403 200 200 404 200 404 200 200",
    ("GET", "/api/v1/regions/{region_id}/deadline"): "401 200 404 200 404 200 404 200 404 200 404 403 403 200 200 404 200 404 200 200",
    ("GET", "/api/v1/regions/{region_id}/working-time"): "401 200 404 200 404 200 404 200 404 200 404 403 403 200 200 404 200 404 200 200",
    ("GET", "/api/v1/units/{unit_id}"):              "401 200 404 200 404 200 404 404 404 404 404 403 403 200 200 404 200 404 200 200",
    ("GET", "/api/v1/tokens"):                       "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "/api/v1/tokens"):                      "401 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 201",
    ("POST", "/api/v1/tokens/{token_id}/revoke"):    "401 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404 200 404",
    ("GET", "/api/v1/audit/entries"):                "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200",
    ("GET", "/api/v1/audit/entries/{entry_id}"):     "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200",
    ("GET", "/api/v1/audit/verify"):                 "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200",
    ("GET", "/api/v1/inbox"):                        "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "/api/v1/inbox/{message_id}/read"):     "401 404 404 404 404 200 404 404 404 404 404 404 404 404 404 404 404 404 404 404",
    # Cases: every target is a Pingshan case in the Pingshan street (tests/case_scenarios.py). Federations and
    # committees see their area, a department what was sent to it, the city's return-visit officer all of
    # Shenzhen; roles without a case capability see no case (404), and get 403 on the lists.
    #                                                    anon op  op2 dis dis2 h  h2  dh  dh2 cw  cw2 vol vol2 rv sup sup2 ua ua2 sa  aud
    ("GET", "/api/v1/categories"):                   "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/api/v1/cases"):                        "401 200 200 200 200 200 200 200 200 403 403 403 403 200 200 200 403 403 403 403",
    ("POST", "/api/v1/cases"):                       "401 201 422 201 422 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "/api/v1/cases/{case_id}"):              "401 200 404 200 404 200 404 200 404 404 404 404 404 200 200 404 404 404 404 404",
    ("GET", "/api/v1/cases/{case_id}/timeline"):     "401 200 404 200 404 200 404 200 404 404 404 404 404 200 200 404 404 404 404 404",
    ("GET", "/api/v1/cases/{case_id}/suggestion"):   "401 200 404 200 404 403 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/cases/{case_id}/dispatch"):    "401 403 404 201 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/cases/{case_id}/answer"):      "401 200 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/cases/{case_id}/decline"):     "401 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/cases/{case_id}/close"):       "401 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/cases/{case_id}/transfers"):   "401 403 404 201 404 403 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    # Only the receiving unit's dispatchers see a transfer (Longhua's: she may not see the case before accepting).
    ("POST", "/api/v1/transfers/{transfer_id}/decision"): "401 404 404 404 200 404 404 404 404 404 404 404 404 404 404 404 404 404 404 404",
    ("GET", "/api/v1/work-orders"):                  "401 403 403 200 200 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "/api/v1/work-orders/{work_order_id}"):  "401 200 404 200 404 200 404 200 404 404 404 404 404 200 200 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/sign-for"): "401 403 404 403 404 200 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/return"): "401 403 404 403 404 200 404 403 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/return-ruling"): "401 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/first-contact"): "401 403 404 403 404 200 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/notes"): "401 403 404 403 404 201 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/complete"): "401 403 404 403 404 200 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/review"): "401 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/forward"): "401 403 404 403 404 201 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    # Deadlines: the presets are readable by every signed-in user; the handling unit pauses and asks for more
    # time, the handling or sending unit resumes, the sending unit or a supervisor over the area decides.
    ("GET", "/api/v1/clock-policies"):               "401 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "/api/v1/work-orders/{work_order_id}/pause"): "401 403 404 403 404 201 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/resume"): "401 403 404 200 404 200 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "/api/v1/work-orders/{work_order_id}/extensions"): "401 200 404 200 404 200 404 404 404 404 404 404 404 200 200 404 404 404 404 404",
    ("POST", "/api/v1/work-orders/{work_order_id}/extensions"): "401 403 404 403 404 201 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/extensions/{extension_id}/decision"): "401 403 404 200 404 403 404 404 404 404 404 404 404 403 200 404 404 404 404 404",
    # Intake: the bodies name the Pingshan district federation, so its twin in Longhua gets 422 on unit_id.
    ("GET", "/api/v1/contacts"):                     "401 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "/api/v1/contacts"):                    "401 201 422 201 422 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "/api/v1/people"):                      "401 201 422 201 422 422 422 422 422 403 403 403 403 403 403 403 403 403 403 403",
    # A whole call (registered only): for those who take calls, like the hotline screen.
    ("POST", "/api/v1/calls"):                       "401 201 422 201 422 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "/api/v1/caller-history"):               "401 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    # Chasing: the overdue list is the supervisors'; reminders on the Pingshan street order_sent; the chase is
    # the Pingshan supervisor's reminder to the street federation.
    ("GET", "/api/v1/supervision/overdue"):          "401 403 403 403 403 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("POST", "/api/v1/work-orders/{work_order_id}/chases"): "401 403 404 403 404 403 404 403 404 404 404 404 404 403 201 404 404 404 404 404",
    ("GET", "/api/v1/chases"):                       "401 403 403 200 200 200 200 200 200 403 403 403 403 403 403 403 403 403 403 403",
    ("POST", "/api/v1/chases/{chase_id}/answer"):    "401 403 404 403 404 200 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "/api/v1/safety-follow-ups"):            "401 403 403 200 200 200 200 200 200 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "/api/v1/cases/{case_id}/safety-follow-ups"): "401 200 404 200 404 200 404 404 404 404 404 404 404 200 200 404 404 404 404 404",
    ("POST", "/api/v1/cases/{case_id}/safety-follow-ups"): "401 403 404 201 404 201 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/safety-follow-ups/{follow_up_id}/reviews"): "401 403 404 201 404 201 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("POST", "/api/v1/safety-follow-ups/{follow_up_id}/end"): "401 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
    ("GET", "/api/v1/assessment"):                   "401 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    ("GET", "/api/v1/dashboard"):                    "401 403 403 200 200 403 403 403 403 403 403 403 403 403 200 200 403 403 403 403",
    # Integrations: webhook subscriptions and the delivery log are the system administrators'.
    ("GET", "/api/v1/webhooks"):                     "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "/api/v1/webhooks"):                    "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 201 403",
    ("GET", "/api/v1/webhooks/{webhook_id}"):        "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("PATCH", "/api/v1/webhooks/{webhook_id}"):      "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("GET", "/api/v1/deliveries"):                   "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "/api/v1/deliveries/{delivery_id}/retry"): "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    # Channel keys of the Open311 clients: the system administrators'.
    ("GET", "/api/v1/channel-keys"):                 "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    ("POST", "/api/v1/channel-keys"):                "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 201 403",
    ("POST", "/api/v1/channel-keys/{key_id}/revoke"): "401 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 200 403",
    # Ratings: the rounds of the main case (none yet) for whoever opens it; the queue is the return-visit officers';
    # a call on the unsatisfied Pingshan case by the city's officer; its rework by the dispatching federation.
    ("GET", "/api/v1/ratings/cases/{case_id}"):      "401 200 404 200 404 200 404 200 404 404 404 404 404 200 200 404 404 404 404 404",
    ("GET", "/api/v1/ratings/return-visits"):        "401 403 403 403 403 403 403 403 403 403 403 403 403 200 403 403 403 403 403 403",
    ("POST", "/api/v1/ratings/rounds/{round_id}/calls"): "401 403 404 403 404 403 404 404 404 404 404 404 404 201 403 404 404 404 404 404",
    ("POST", "/api/v1/ratings/cases/{case_id}/rework"): "401 403 404 200 404 403 404 404 404 404 404 404 404 403 403 404 404 404 404 404",
}
# fmt: on

#: Django's admin is one row: its own permission system guards what is behind it.
INCLUDED_AS_ONE_ROW = ("django-admin/",)
DENIED = {401, 403, 404, 405}


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route in INCLUDED_AS_ONE_ROW:
                found.append((route, entry))  # type: ignore[arg-type]
            elif route.startswith(("api/v1/", "open311/v2/")):
                # The APIs are enumerated from their OpenAPI documents; only their own docs pages are URL rows.
                found.extend((route + str(sub.pattern), sub) for sub in entry.url_patterns if str(sub.pattern) in ("openapi.json", "docs"))
            else:
                found.extend(_patterns(entry, route))
        else:
            found.append((route, entry))
    return found


def _route_keys() -> set[str]:
    keys = set()
    for route, entry in _patterns(get_resolver()):
        if isinstance(entry, URLPattern) and entry.name and not route.startswith(("api/", "open311/")):
            keys.add(entry.name)
        else:
            keys.add(route)
    return keys


def _operation_keys() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods}


def test_every_route_has_a_row() -> None:
    assert _route_keys() == {name for _method, name in PAGES}


def test_every_api_operation_has_a_row() -> None:
    assert _operation_keys() == set(OPERATIONS)


def test_rows_have_a_status_for_every_persona() -> None:
    for table in (PAGES, OPERATIONS):
        for key, row in table.items():
            assert len(row.split()) == len(PERSONAS), key


def _fingerprint(targets: dict[str, Any]) -> tuple[Any, ...]:
    handler = User.objects.get(pk=targets["user"].pk)
    return (
        Region.objects.count(),
        Unit.objects.count(),
        User.objects.count(),
        sorted(Membership.objects.values_list("pk", "role", "revoked_at")),
        sorted(ApiToken.objects.values_list("pk", "revoked_at")),
        AuditEntry.objects.filter(action=AuditAction.EXPORT).count(),
        sorted(Message.objects.values_list("pk", "status", "attempts", "read_at")),
        sorted(MessageTemplate.objects.values_list("pk", "subject")),
        (handler.full_name, handler.email, handler.is_active, handler.password, handler.phone_index, handler.id_number_index),
        sorted(WorkingCalendar.objects.values_list("pk", "region_id", "time_zone", "covered_until")),
        sorted(CalendarException.objects.values_list("calendar_id", "date", "kind", "name")),
        case_fingerprint(),
        _intake_fingerprint(),
        _assessment_fingerprint(),
        _chasing_fingerprint(),
        _integrations_fingerprint(),
        _wechat_fingerprint(),
        _ratings_fingerprint(),
        _open311_fingerprint(),
        safety_fingerprint(),
    )


def _integrations_fingerprint() -> tuple[Any, ...]:
    """Webhook subscriptions, deliveries, extensions and calls (what the integration pages and operations change)."""
    from rightscare.integrations.models import CallRecord, CtiEvent, Delivery, OperatorExtension, WebhookSubscription

    return (
        sorted(WebhookSubscription.objects.values_list("pk", "name", "url", "active", "region_id")),
        sorted(Delivery.objects.values_list("pk", "status", "attempts")),
        sorted(OperatorExtension.objects.values_list("pk", "extension", "user_id")),
        sorted(CallRecord.objects.values_list("pk", "state", "contact_id")),
        CtiEvent.objects.count(),
    )


def _wechat_fingerprint() -> tuple[Any, ...]:
    """The WeChat callback's message log and the followers it records."""
    from rightscare.notifications.models import WeChatFollower
    from rightscare.wechat.models import InboundMessage

    return (InboundMessage.objects.count(), WeChatFollower.objects.count())


def _integrations_targets(personas) -> dict[str, Any]:
    """A webhook subscription with a failed delivery, and the operator's extension with a call ringing."""
    from rightscare.integrations import services as integrations
    from rightscare.integrations.models import CallRecord, Delivery

    subscription = integrations.save_subscription(
        by=personas["system_admin"], subscription=None, name="矩阵", url="https://hooks.example.org/matrix", events=["case.created"]
    )
    delivery = Delivery.objects.create(
        idempotency_key="webhook:matrix",
        kind="webhook",
        event="case.created",
        subscription=subscription,
        payload={},
        status="failed",
        attempts=10,
        next_attempt_at=timezone.now(),
    )
    extension = integrations.map_extension(by=personas["system_admin"], extension="8001", user=personas["operator"])
    CallRecord.objects.create(call_id="matrix-call", extension="8001", operator=personas["operator"], caller_phone="+8613800138021", ringing_at=timezone.now())
    # Not "extension": that is the request for more time of tests/case_scenarios.py.
    return {"webhook": subscription, "failed_delivery": delivery, "operator_extension": extension}


def _chasing_fingerprint() -> tuple[Any, ...]:
    """The chases and their answers (what the chasing pages and operations change)."""
    from rightscare.supervision.models import Chase

    return tuple(sorted(Chase.objects.values_list("pk", "level", "answer", "answered_at")))


def _assessment_fingerprint() -> tuple[Any, ...]:
    """The exclusions and the composite's weights (what the assessment pages change)."""
    from rightscare.assessment.models import AssessmentWeights, Exclusion

    return (sorted(Exclusion.objects.values_list("pk", "status")), AssessmentWeights.objects.count())


def _intake_fingerprint() -> tuple[Any, ...]:
    """The contacts' cases and the duty roster (what the intake pages change)."""
    from rightscare.cases.models import DutyShift
    from rightscare.intake.models import Contact

    return (
        sorted(Contact.objects.values_list("pk", "case_id", "outcome", "review_state")),
        sorted(DutyShift.objects.values_list("pk", "unit_id", "user_id", "starts_at", "ends_at")),
    )


@pytest.fixture(scope="module")
def _matrix_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Any:
    """The organisation, the personas and every target, built once per module (and xdist worker).

    Built inside one outer transaction that is rolled back when the module's tests are done;
    each test runs in a savepoint of it (pytest-django's ``db``) and rolls back, as Django's
    ``TestCase.setUpTestData`` does. Building the targets costs more than most rows' requests,
    so this is most of the matrix's time saved; no row sees another row's writes.
    """
    media = tmp_path_factory.mktemp("matrix-media")
    storages = override_settings(
        STORAGES={**django_settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}}},
        # As tests/conftest.py's _fast_password_hashing (a function-scoped fixture, not active here):
        # passwords and PINs hashed while building are checked with the same hasher in the rows.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    with django_db_blocker.unblock():
        storages.enable()
        outer = transaction.atomic()
        outer.__enter__()
        try:
            org = build_org_tree()
            personas = build_personas(org)
            yield org, personas, _build_targets(org, personas)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            storages.disable()


@pytest.fixture
def org(_matrix_world, db) -> OrgTree:
    return _matrix_world[0]


@pytest.fixture
def personas(_matrix_world, db) -> dict[str, User]:
    return _matrix_world[1]


@pytest.fixture
def targets(_matrix_world, db) -> dict[str, Any]:
    # A worker is running: /healthz/worker answers 200 (a fresh beat for each row; rolled back with it).
    workers.beat(worker_id="matrix-worker", started_at=timezone.now())
    return _matrix_world[2]


def _build_targets(org: OrgTree, personas: dict[str, User]) -> dict[str, Any]:
    token, _plain = services.create_api_token(by=personas["system_admin"], name="target")
    id_number = build_id_number(birth_place="440303", birth_date=date(1988, 5, 17), sequence=246)
    services.set_user_contact(by=personas["system_admin"], user=personas["handler"], phone="139 0000 0101", id_number=id_number)
    return {
        "region": org.regions["pingshan"],
        "unit": org.units["pingshan_street"],
        "user": personas["handler"],
        "membership": personas["handler"].memberships.get(),
        "token": token,
        # The audit entry of the token's creation, for the auditors' pages.
        "audit_entry": AuditEntry.objects.get(event="org.create_api_token", object_id=str(token.pk)),
        # The handler's inbox message; a failed message and a message template for the administrators' pages.
        "message": notifications.queue_message(event="org.role_granted", to_user=personas["handler"], channel="inbox", context={"role": "处理人"}),
        "failed_message": _failed_message(),
        "template": MessageTemplate.objects.create(event="org.role_granted", channel="", language="en", subject="Role {{ role }}", body="Hello"),
        # A worker is running: /healthz/worker answers 200.
        "heartbeat": workers.beat(worker_id="matrix-worker", started_at=timezone.now()),
        # Pingshan's working calendar, with one local holiday to remove.
        "calendar": _region_calendar(org, personas),
        # Cases and work orders in every state the case operations expect, and a pending transfer to Longhua.
        # ... and a file of the main case (in a temporary storage), for the case pages' attachment rows.
        **_with_attachment(build_case_targets(org, personas), personas["dispatcher"]),
        # The operator's hotline call on a Pingshan case, and a coming shift of the Pingshan federation's roster.
        **_intake_targets(org, personas),
        # The Pingshan supervisor's reminder to the street federation, waiting for its answer.
        "chase": chase_target(org, personas),
        # A pending exclusion request on a Pingshan case of its own, asked for by the district federation.
        **_assessment_targets(org, personas),
        # A request submitted online in the Pingshan community, with a file, waiting in the Pingshan federation's queue.
        **_submission_targets(org, personas),
        # A webhook subscription with a failed delivery; the operator's extension with a call ringing.
        **_integrations_targets(personas),
        # A Pingshan case its petitioner rated "not solved" (in the return-visit queue, to be reworked).
        **_ratings_targets(org, personas),
        # A Pingshan domestic-violence case being handled by the street federation, and a resolved one under safety follow-up.
        **safety_targets(org, personas),
        # A mini-program channel key and a request submitted through it (its tracking code and PIN).
        **_open311_targets(org, personas),
    }


def _open311_targets(org, personas) -> dict[str, Any]:
    from rightscare.cases.models import Category
    from rightscare.open311 import georeport
    from rightscare.open311 import services as open311

    key, _plain = open311.create_channel_key(by=personas["system_admin"], name="矩阵小程序", channel="mini_program")
    category = Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True)
    fields = {"service_code": category.code, "description": "孕期被辞退。", "address_id": org.regions["pingshan_street"].code}
    # Anonymous and not to be contacted: no phone, so no per-phone rate limit across the tests.
    item = georeport.submit(key=key, fields=fields, attributes={}).item
    return {"channel_key": key, "open311_code": item["token"], "open311_pin": item["pin"]}


def _open311_fingerprint() -> tuple[Any, ...]:
    """Channel keys and the requests submitted through them (what the Open311 pages and operations change)."""
    from rightscare.open311.models import ChannelKey, ChannelRequest

    return (sorted(ChannelKey.objects.values_list("pk", "name", "revoked_at")), ChannelRequest.objects.count())


def _ratings_targets(org, personas) -> dict[str, Any]:
    from tests.ratings.helpers import unsatisfied_case

    rework_case, _order = unsatisfied_case(org, personas, summary="仍未解决。")
    return {"rework_case": rework_case, "rating_round": rework_case.rating_rounds.get()}


def _public_rating_data(targets: dict[str, Any]) -> dict[str, str]:
    """The tracking page's rating form for the resolved case (its round 1 waits for her rating)."""
    from rightscare.ratings.public import rating_context

    context = rating_context(targets["resolved_case"])
    assert context is not None
    form = context["rating_form"]
    return {"token": form.initial["token"], "idempotency_key": form.initial["idempotency_key"], "solved": "yes", "speed": "5", "quality": "4"}


def _ratings_fingerprint() -> tuple[Any, ...]:
    """The rounds, ratings and return-visit calls (what the ratings pages and operations change)."""
    from rightscare.ratings.models import Rating, RatingRound, ReturnVisitAttempt

    return (
        sorted(RatingRound.objects.values_list("pk", "status", "version")),
        Rating.objects.count(),
        ReturnVisitAttempt.objects.count(),
    )


def _submission_targets(org, personas) -> dict[str, Any]:
    from rightscare.cases.models import Category
    from rightscare.petitioners import services as petitioners
    from rightscare.petitioners.models import SubmissionFile

    category = Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True)
    result = petitioners.submit_request(
        channel="web_form",
        submission=petitioners.SubmissionData(
            description="孕期被辞退。",
            category=category,
            region=org.regions["pingshan_community"],
            anonymous=True,
            may_call=False,
            files=[petitioners.SubmittedFile(name="合同.pdf", data=b"%PDF-1.4\n%%EOF\n")],
        ),
    )
    return {"submission": result.contact, "submission_file": SubmissionFile.objects.get(contact=result.contact), "submission_category": category}


def _assessment_targets(org, personas) -> dict[str, Any]:
    from rightscare.assessment.services import request_exclusion
    from rightscare.cases.models import Category
    from rightscare.cases.services import dispatch_case, register_case

    pingshan = org.units["pingshan"]
    category = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    case = register_case(
        by=personas["operator"], unit=pingshan, request_type="help", category=category, summary="恶意诉求。", region=org.regions["pingshan_street"]
    )
    dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=pingshan, lead=org.units["pingshan_street"])
    return {"exclusion": request_exclusion(by=personas["dispatcher"], case=case, unit=pingshan, reason="恶意诉求。")}


def _intake_targets(org, personas) -> dict[str, Any]:
    from datetime import timedelta

    from rightscare.cases.models import Case, Category, DutyShift
    from rightscare.cases.services import register_case
    from rightscare.intake.services import record_contact

    operator, pingshan = personas["operator"], org.units["pingshan"]
    case = register_case(
        by=operator,
        unit=pingshan,
        request_type="help",
        category=Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True),
        summary="孕期被辞退。",
        region=org.regions["pingshan_community"],
    )
    contact = record_contact(by=operator, unit=pingshan, channel="hotline", content="来电。", caller_phone="138 0013 8021", case=case)
    start = timezone.now() + timedelta(days=1)
    shift = DutyShift.objects.create(unit=pingshan, user=personas["dispatcher"], starts_at=start, ends_at=start + timedelta(hours=12))
    other: Case = register_case(
        by=operator, unit=pingshan, request_type="help", category=case.category, summary="另一件。", region=org.regions["pingshan_community"]
    )
    return {"contact": contact, "contact_case": case, "other_case": other, "duty_unit": pingshan, "duty_shift": shift}


def _with_attachment(case_targets: dict[str, Any], by) -> dict[str, Any]:
    """A file of the main case, in the module's temporary storage (``_matrix_world``)."""
    from rightscare.cases.services import add_attachment

    attachment = add_attachment(case=case_targets["case"], by=by, name="合同.pdf", data=b"%PDF-1.4\n%%EOF\n")
    return {**case_targets, "attachment": attachment}


def _region_calendar(org, personas) -> WorkingCalendar:
    calendar = calendar_services.create_region_calendar(by=personas["system_admin"], region=org.regions["pingshan"])
    calendar_services.add_calendar_day(by=personas["system_admin"], calendar=calendar, day=date(2026, 11, 20), kind="holiday", name="坪山区纪念日")
    return calendar


#: Query strings of the operations that need one.
QUERIES = {
    "/api/v1/regions/{region_id}/deadline": "?start=2026-09-30T10:00:00%2B08:00&amount=1&unit=working_days",
    "/api/v1/regions/{region_id}/working-time": "?start=2026-09-30T10:00:00%2B08:00&end=2026-10-09T12:00:00%2B08:00",
}


def _failed_message() -> Message:
    message = notifications.queue_message(event="org.role_granted", to_address="13900000101", channel="console", context={"role": "处理人"})
    Message.objects.filter(pk=message.pk).update(status="failed", attempts=8)
    return message


def _page_url(name: str, targets: dict[str, Any]) -> str:
    from django.urls import reverse

    arguments = {
        "token_revoke": targets["token"].pk,
        "region_detail": targets["region"].pk,
        "region_edit": targets["region"].pk,
        "unit_detail": targets["unit"].pk,
        "unit_edit": targets["unit"].pk,
        "user_detail": targets["user"].pk,
        "user_edit": targets["user"].pk,
        "user_reveal_id_number": targets["user"].pk,
        "user_set_password": targets["user"].pk,
        "membership_grant": targets["user"].pk,
        "membership_revoke": targets["membership"].pk,
        "audit_detail": targets["audit_entry"].pk,
        "inbox_read": targets["message"].pk,
        "outbox_retry": targets["failed_message"].pk,
        "message_template_edit": targets["template"].pk,
        "message_template_delete": targets["template"].pk,
        "calendar_detail": targets["calendar"].pk,
        "calendar_edit": targets["calendar"].pk,
        "calendar_delete": targets["calendar"].pk,
        "calendar_day_add": targets["calendar"].pk,
        "calendar_day_remove": targets["calendar"].pk,
        # The case pages, each on a record in the state its action expects (tests/case_scenarios.py).
        **dict.fromkeys(("case_detail", "case_timeline", "case_transfer", "case_unmerge", "attachment_upload"), targets["case"].pk),
        **dict.fromkeys(("case_dispatch", "case_merge", "case_decline"), targets["registered_case"].pk),
        "case_close": targets["resolved_case"].pk,
        "transfer_decide": targets["transfer"].pk,
        "work_order_sign_for": targets["order_sent"].pk,
        "work_order_return": targets["order_sent"].pk,
        "work_order_rule_return": targets["order_returned"].pk,
        "work_order_first_contact": targets["order_signed"].pk,
        "work_order_note": targets["order_signed"].pk,
        "work_order_forward": targets["order_signed"].pk,
        "work_order_complete": targets["order_in_progress"].pk,
        "work_order_review": targets["order_completed"].pk,
        **dict.fromkeys(("work_order_pause", "work_order_extension"), targets["order_signed"].pk),
        "work_order_resume": targets["order_paused"].pk,
        "extension_decide": targets["extension"].pk,
        **dict.fromkeys(("clock_policy_edit", "clock_policy_history"), targets["clock_policy"].pk),
        **dict.fromkeys(("rule_edit", "rule_retire", "rule_history"), targets["rule"].pk),
        **dict.fromkeys(("category_edit", "category_history"), targets["category"].pk),
        **dict.fromkeys(("intake_contact_detail", "intake_contact_attach", "intake_contact_detach"), targets["contact"].pk),
        **dict.fromkeys(("duty_roster", "duty_add"), targets["duty_unit"].pk),
        "duty_remove": targets["duty_shift"].pk,
        "supervision_remind": targets["order_sent"].pk,
        "chase_answer": targets["chase"].pk,
        "safety_open": targets["dv_case"].pk,
        **dict.fromkeys(("safety_review", "safety_end"), targets["follow_up"].pk),
        "exclusion_request": targets["case"].pk,
        "exclusion_decide": targets["exclusion"].pk,
        **dict.fromkeys(("submission_detail", "submission_confirm", "submission_attach", "submission_reject"), targets["submission"].pk),
        "submission_file": targets["submission_file"].pk,
        "webhook_edit": targets["webhook"].pk,
        **dict.fromkeys(("delivery_detail", "delivery_retry"), targets["failed_delivery"].pk),
        "extension_remove": targets["operator_extension"].pk,
        "channel_key_revoke": targets["channel_key"].pk,
        "return_visit_record": targets["rating_round"].pk,
        "case_rework": targets["rework_case"].pk,
    }
    if name == "attachment_download":
        return reverse(name, args=[targets["case"].pk, targets["attachment"].pk])
    if "/" in name:
        return "/" + name
    if name in arguments:
        return reverse(name, args=[arguments[name]])
    return reverse(name)


def _page_data(name: str, targets: dict[str, Any]) -> dict[str, str]:
    return {
        "user_edit": {"full_name": "新名字", "email": "", "is_active": "on"},
        "user_set_password": {"password": "a-new-long-passphrase-2026"},
        "membership_grant": {"unit": str(targets["unit"].pk), "role": "dispatcher"},
        "set_language": {"language": "en", "next": "/"},
        "calendar_day_add": {"date": "2026-12-25", "kind": "holiday", "name": "矩阵"},
        "calendar_day_remove": {"date": "2026-11-20"},
        "work_order_return": {"reason": "不属于本街道。"},
        "work_order_rule_return": {"ruling": "justified"},
        "work_order_first_contact": {"note": "电话联系。"},
        "work_order_note": {"text": "约谈企业。", "visibility": "handling"},
        "work_order_complete": {"result": "已追回工资。", "amount_yuan": "130000"},
        "work_order_review": {"decision": "accept"},
        "work_order_pause": {"reason_code": "court", "reason": "（2026）粤0310民初123号"},
        "work_order_extension": {"days": "3", "reason": "等待仲裁结果。"},
        "intake_caller_history": {"caller_phone": "13800138021"},
        "intake_contact_attach": {"case_number": targets["other_case"].number},
        "submission_confirm": {
            "unit": str(targets["duty_unit"].pk),
            "request_type": "help",
            "category": str(targets["submission_category"].pk),
            "region": str(targets["submission"].submission.region_id),
            "urgency": "normal",
            "summary": "孕期被辞退。",
        },
        "submission_attach": {"case_number": targets["other_case"].number},
        "submission_reject": {"reason": "不属于受理范围。"},
        "duty_add": _shift_data(targets),
        "supervision_remind": {"comment": "请说明进展。"},
        "chase_answer": {"answer": "已安排签收。"},
        "safety_open": {"reason": "施暴者即将出狱。", "unit": str(targets["dv_case"].registering_unit_id), "review_every_days": "7"},
        "safety_review": {"risk": "medium", "note": "上门走访。", "next_review_in_days": "14"},
        "safety_end": {"reason": "她已迁居外地。"},
        "exclusion_decide": {"decision": "approve", "note": ""},
        "public_rating_submit": _public_rating_data(targets) if name == "public_rating_submit" else {},
        "assessment_weights": dict.fromkeys(
            ("sign_for", "response", "on_time_resolution", "resolution", "satisfaction", "rework", "return_rate", "dispatch_accuracy"), "10"
        ),
    }.get(name, {})


def _shift_data(targets: dict[str, Any]) -> dict[str, str]:
    from datetime import timedelta

    start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0, tzinfo=None)
    user = targets["duty_shift"].user_id
    return {"user": str(user), "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=8)).isoformat()}


@pytest.mark.parametrize(("method", "name"), list(PAGES))
def test_page_status_for_every_persona(client, personas, targets, method: str, name: str) -> None:
    expected = dict(zip(PERSONAS, (int(s) for s in PAGES[(method, name)].split()), strict=True))
    url = _page_url(name, targets)
    actual = {}
    # Each persona's request is rolled back: the state before every one of them is this one.
    before = _fingerprint(targets)
    for persona in PERSONAS:
        with transaction.atomic():
            client.logout()
            if persona != "anon":
                log_in(client, personas[persona])
            response = client.get(url) if method == "GET" else client.post(url, _page_data(name, targets))
            actual[persona] = response.status_code
            if response.status_code in DENIED:
                assert _fingerprint(targets) == before, f"{persona} was denied {name} but something changed"
            transaction.set_rollback(True)
    assert actual == expected


def _operation_url(path: str, targets: dict[str, Any]) -> str:
    if path == "/api/v1/ratings/cases/{case_id}/rework":
        path = path.replace("{case_id}", str(targets["rework_case"].pk))
    path = case_operation_url(path, targets)
    return (
        path.replace("{region_id}", str(targets["region"].pk))
        .replace("{unit_id}", str(targets["unit"].pk))
        .replace("{token_id}", str(targets["token"].pk))
        .replace("{entry_id}", str(targets["audit_entry"].pk))
        .replace("{message_id}", str(targets["message"].pk))
        .replace("{calendar_id}", str(targets["calendar"].pk))
        .replace("{chase_id}", str(targets["chase"].pk))
        .replace("{webhook_id}", str(targets["webhook"].pk))
        .replace("{delivery_id}", str(targets["failed_delivery"].pk))
        .replace("{round_id}", str(targets["rating_round"].pk))
        .replace("{follow_up_id}", str(targets["follow_up"].pk))
        .replace("{key_id}", str(targets["channel_key"].pk))
    )


@pytest.mark.parametrize(("method", "path"), list(OPERATIONS))
def test_operation_status_for_every_persona(client, personas, targets, method: str, path: str) -> None:
    expected = dict(zip(PERSONAS, (int(s) for s in OPERATIONS[(method, path)].split()), strict=True))
    url = _operation_url(path, targets) + QUERIES.get(path, "")
    tokens = {name: services.create_api_token(by=user, name="matrix")[1] for name, user in personas.items()}
    body = {
        "/api/v1/tokens": {"name": "from the matrix", "days": 30},
        "/api/v1/me": {"phone": "139 0000 0102"},
        "/api/v1/chases/{chase_id}/answer": {"answer": "已安排签收。"},
        "/api/v1/webhooks": {"name": "矩阵二", "url": "https://hooks.example.org/two", "events": ["case.created"]},
        "/api/v1/webhooks/{webhook_id}": {"active": False},
        "/api/v1/channel-keys": {"name": "矩阵", "channel": "app"},
        "/api/v1/ratings/rounds/{round_id}/calls": {"reached": True, "note": "她仍不满意，要求重办。"},
        "/api/v1/ratings/cases/{case_id}/rework": {"reason": "企业仍未支付。"},
        "/api/v1/cases/{case_id}/safety-follow-ups": {"reason": "施暴者即将出狱。", "review_every_days": 7},
        "/api/v1/safety-follow-ups/{follow_up_id}/reviews": {"risk": "medium", "note": "上门走访。", "next_review_in_days": 14},
        "/api/v1/safety-follow-ups/{follow_up_id}/end": {"reason": "她已迁居外地。"},
    }.get(path)
    body = body or case_operation_body(path, targets)
    actual = {}
    # Each persona's request is rolled back: the state before every one of them is this one.
    before = _fingerprint(targets)
    for persona in PERSONAS:
        with transaction.atomic():
            headers = {} if persona == "anon" else {"Authorization": f"Bearer {tokens[persona]}"}
            if method == "GET":
                response = client.get(url, headers=headers)
            else:
                response = client.generic(method, url, json.dumps(body or {}), content_type="application/json", headers=headers)
            actual[persona] = response.status_code
            if response.status_code >= 400:  # denied (401, 403, 404) or refused (409, 422): nothing may change
                assert response["Content-Type"] == "application/problem+json"
                assert _fingerprint(targets) == before, f"{persona} was denied {path} but something changed"
            transaction.set_rollback(True)
    assert actual == expected


# --- Open311 (its own API at /open311/v2/) -----------------------------------------------------------------
# A channel key is its only credential: staff tokens and sessions grant nothing there, so every persona gets
# the same answer. The catalogue is public; a code with its PIN opens its request for anyone who has both;
# submitting and the status-update feed need an api_key (none is sent here: 403).
#                                                                anon op  op2 dis dis2 h  h2  dh  dh2 cw  cw2 vol vol2 rv sup sup2 ua ua2 sa  aud
# fmt: off
OPEN311_OPERATIONS: dict[tuple[str, str], str] = {
    ("GET", "/open311/v2/services.json"):                        "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/open311/v2/services/{service_code}.json"):         "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("POST", "/open311/v2/requests.json"):                       "403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
    ("GET", "/open311/v2/tokens/{token}.json"):                  "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/open311/v2/requests/{service_request_id}.json"):   "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/open311/v2/updates.json"):                         "403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",
}
# fmt: on


def test_every_open311_operation_has_a_row() -> None:
    from rightscare.open311.api import open311_api

    schema = open311_api.get_openapi_schema(path_prefix="/open311/v2")
    assert {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods} == set(OPEN311_OPERATIONS)
    assert all(len(row.split()) == len(PERSONAS) for row in OPEN311_OPERATIONS.values())


@pytest.mark.parametrize(("method", "path"), list(OPEN311_OPERATIONS))
def test_open311_operation_status_for_every_persona(client, personas, targets, method: str, path: str) -> None:
    from django.core.cache import cache

    expected = dict(zip(PERSONAS, (int(s) for s in OPEN311_OPERATIONS[(method, path)].split()), strict=True))
    url = (
        path.replace("{service_code}", "unlawful-dismissal")
        .replace("{token}", targets["open311_code"])
        .replace("{service_request_id}", targets["open311_code"])
    )
    tokens = {name: services.create_api_token(by=user, name="matrix")[1] for name, user in personas.items()}
    actual = {}
    # Each persona's request is rolled back: the state before every one of them is this one.
    before = _fingerprint(targets)
    for persona in PERSONAS:
        cache.clear()  # the public lookups are rate-limited per address: each persona starts afresh
        with transaction.atomic():
            client.logout()
            headers = {}
            if persona != "anon":
                log_in(client, personas[persona])
                headers = {"Authorization": f"Bearer {tokens[persona]}"}
            if method == "GET":
                response = client.get(url, {"pin": targets["open311_pin"]} if "{service_request_id}" in path else {}, headers=headers)
            else:
                body = {"service_code": "unlawful-dismissal", "description": "矩阵。", "address_id": "440310001000", "phone": "138 0013 8032"}
                response = client.post(url, body, headers=headers)
            actual[persona] = response.status_code
            if response.status_code >= 400:
                assert response.json()[0]["code"] == response.status_code
                assert _fingerprint(targets) == before, f"{persona} was denied {path} but something changed"
            transaction.set_rollback(True)
    assert actual == expected
