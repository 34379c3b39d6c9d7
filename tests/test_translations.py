"""The Chinese catalogue is complete, compiled, and every page speaks Chinese (English on request).

Three guarantees:

* the committed ``zh_Hans`` catalogue has no untranslated or fuzzy entry, and its ``.mo``
  matches the ``.po`` (a fresh machine may lack ``msgfmt``, so the ``.mo`` is committed);
* running ``makemessages`` over the code finds no msgid the catalogue lacks (a new string
  in a view, form, model or template must be translated in the same change);
* every page, rendered in Chinese, shows no English text from the catalogue: a string
  that is translated but still appears in English was left out of ``{% translate %}`` or
  ``gettext`` somewhere on its way to the page.
"""

from __future__ import annotations

import gettext
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone, translation

import rightscare
from rightscare.audit.models import AuditEntry
from rightscare.audit.services import seal
from rightscare.notifications.models import MessageTemplate
from rightscare.notifications.services import queue_message
from rightscare.org.calendar_services import add_calendar_day, create_region_calendar, seed_national_calendar
from rightscare.org.forms import LoginForm
from rightscare.org.models import ApiToken, Membership
from rightscare.org.roles import Role
from rightscare.org.services import create_api_token
from tests.integrations.helpers import integration_records

PACKAGE = Path(rightscare.__file__).resolve().parent
LOCALE_DIR = PACKAGE / "locale"
PO_FILE = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")

#: URL prefixes that are not pages of the product UI (or have no Chinese text to show).
#: (channels/wechat/ is WeChat's XML callback: 403 to any unsigned call; its replies are tested in tests/wechat/.)
SKIPPED_PREFIXES = ("api/", "open311/", "django-admin/", "i18n/", "healthz", "channels/wechat/")


# --- a tiny .po parser (polib is not a dependency) ------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstrs: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return bool(self.msgstrs) and all(self.msgstrs) and "fuzzy" not in self.flags


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"$')


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def parse_po(path: Path) -> list[Entry]:
    """Entries of a .po file (the header, with an empty msgid, included)."""
    entries: list[Entry] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        obsolete = any(line.startswith("#~") and "msgid" in line for line in lines)
        fields: dict[str, str] = {}
        flags: set[str] = set()
        current = None
        for raw in lines:
            line = raw[2:].strip() if raw.startswith("#~") else raw
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
                continue
            if line.startswith("#"):
                continue
            match = _KEYWORD.match(line)
            if match:
                current = match.group(1)
                fields[current] = _unquote(match.group(2))
            elif line.startswith('"') and current is not None:
                fields[current] += _unquote(line.strip()[1:-1])
        if "msgid" not in fields:
            continue
        msgstrs = [fields[k] for k in sorted(fields) if k.startswith("msgstr")]
        entries.append(
            Entry(
                msgid=fields["msgid"],
                msgctxt=fields.get("msgctxt"),
                msgid_plural=fields.get("msgid_plural"),
                msgstrs=msgstrs,
                flags=flags,
                obsolete=obsolete,
            )
        )
    return entries


def messages(path: Path) -> list[Entry]:
    """The live (not obsolete) messages of a catalogue, without its header."""
    return [entry for entry in parse_po(path) if entry.msgid and not entry.obsolete]


def _require_gettext_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} (GNU gettext) is required in CI")
        pytest.skip(f"{name} (GNU gettext) is not installed")
    return tool


# --- the catalogue ---------------------------------------------------------------------------


def test_msgfmt_reports_no_untranslated_or_fuzzy_messages():
    msgfmt = _require_gettext_tool("msgfmt")
    result = subprocess.run([msgfmt, "--check", "--statistics", "-o", os.devnull, str(PO_FILE)], capture_output=True, text=True, check=False)
    report = result.stderr + result.stdout
    assert result.returncode == 0, report
    assert "translated message" in report, report
    assert "untranslated" not in report, report
    assert "fuzzy" not in report, report


def test_every_message_is_translated():
    entries = messages(PO_FILE)
    assert len(entries) > 100
    missing = [entry.msgid for entry in entries if not entry.translated]
    assert missing == []


def test_compiled_catalogue_matches_the_po_file():
    with MO_FILE.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    stale = []
    for entry in messages(PO_FILE):
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            if catalog.get(key) != entry.msgstrs[0]:
                stale.append(entry.msgid)
        elif [catalog.get((key, n)) for n in range(len(entry.msgstrs))] != entry.msgstrs:
            stale.append(entry.msgid)
    assert stale == [], "run `django-admin compilemessages` in src/rightscare and commit the .mo file"


def test_catalogue_has_every_message_of_the_code(tmp_path, settings, monkeypatch):
    """``makemessages`` over a copy of the package finds nothing the committed catalogue lacks."""
    _require_gettext_tool("xgettext")
    _require_gettext_tool("msgmerge")
    copy = tmp_path / "rightscare"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "static"))
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], verbosity=0)
    committed = {entry.key: entry for entry in messages(PO_FILE)}
    extracted = messages(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    assert len(extracted) > 100
    missing = [entry.msgid for entry in extracted if entry.key not in committed]
    untranslated = [entry.msgid for entry in extracted if entry.key in committed and not committed[entry.key].translated]
    assert missing == [], "run makemessages -l zh_Hans in src/rightscare, translate the new entries and compilemessages"
    assert untranslated == []


# --- the pages ----------------------------------------------------------------------------------


class _VisibleText(HTMLParser):
    """The text a reader sees: element content outside <script> and <style>, no attribute values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        # Elements marked lang="en" hold English data on purpose (a category's English
        # name beside its Chinese one): they are not untranslated interface text.
        self._english_tag = ""
        self._english_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "template"}:
            self._hidden += 1
        if self._english_tag == tag:
            self._english_depth += 1
        elif not self._english_tag and tag != "html" and dict(attrs).get("lang", "") == "en":
            self._english_tag, self._english_depth = tag, 1
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "template"} and self._hidden:
            self._hidden -= 1
        if self._english_tag == tag:
            self._english_depth -= 1
            if not self._english_depth:
                self._english_tag = ""
                self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def english_phrases() -> list[str]:
    """Fixed English phrases (two words or more) of the translated messages.

    A message with placeholders contributes its fixed parts, so "Revoke the token
    %(name)s? Programs using it will stop working at once." is found even when rendered.
    """
    phrases: set[str] = set()
    for entry in messages(PO_FILE):
        if not entry.translated:
            continue
        for source, target in ((entry.msgid, entry.msgstrs[0]), (entry.msgid_plural, entry.msgstrs[0])):
            if not source or source == target:
                continue
            # Placeholders and template tags ({{ … }}, {% … %}) are code, kept as they are in any language.
            for part in re.split(r"%\(\w+\)[sdif]|%[sdif]|\{\{.*?\}\}|\{%.*?%\}", source):
                phrase = " ".join(part.split()).strip(" ,.;:?!")
                if len(phrase.split()) >= 2 and len(phrase) >= 8:
                    phrases.add(phrase)
    return sorted(phrases, key=len, reverse=True)


def untranslated_phrases(html: str) -> list[str]:
    text = visible_text(html)
    return [phrase for phrase in english_phrases() if phrase in text]


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


_PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


@pytest.fixture
def page_ids(org, personas, settings, tmp_path):
    """Real ids for the ``<int:…>`` arguments of the pages, by URL name."""
    admin = personas["system_admin"]
    token, _plain = create_api_token(by=admin, name="报表工具", days=30)
    membership = Membership.objects.filter(user=personas["dispatcher"]).first()
    assert membership is not None
    region, unit, person = org.regions["pingshan"].pk, org.units["pingshan"].pk, personas["dispatcher"].pk
    # By URL name first, then by the path segment that names the collection.
    by_name = {"membership_grant": person, "membership_revoke": membership.pk, "token_revoke": token.pk}
    # The auditors' pages: the administrator reads them too here, and sees a sealed entry.
    Membership.objects.create(user=admin, unit=org.units["city"], role=Role.AUDITOR)
    seal()
    by_name["audit_detail"] = AuditEntry.objects.get(event="org.create_api_token", object_id=str(token.pk)).pk
    message = queue_message(event="org.role_granted", to_user=admin, channel="inbox", context={"role": "处理人", "unit": "坪山区妇联"})
    template = MessageTemplate.objects.create(event="org.role_granted", channel="", language="zh-hans", subject="您获得了{{ role }}角色", body="您好")
    # The working calendars: the seeded national one and Pingshan's, with a local holiday.
    seed_national_calendar()
    calendar = create_region_calendar(by=admin, region=org.regions["pingshan"])
    add_calendar_day(by=admin, calendar=calendar, day=datetime(2026, 11, 20, tzinfo=UTC).date(), kind="holiday", name="坪山区纪念日")
    by_collection = {
        "regions": region,
        "units": unit,
        "users": person,
        "memberships": membership.pk,
        "tokens": token.pk,
        "inbox": message.pk,
        "messages": message.pk,
        "templates": template.pk,
        "calendars": calendar.pk,
    }
    by_collection.update(_case_page_ids(org, personas, settings, tmp_path))
    by_name.update(_intake_page_ids(org, personas))
    by_name.update(_petitioners_page_ids(org, personas))
    by_name.update(_assessment_page_ids(org, personas))
    by_name.update(_ratings_page_ids(org, personas))
    by_name.update(_safety_page_ids(org, personas))
    # A webhook subscription with a failed delivery, and an extension mapped to the operator.
    records = integration_records(personas)
    by_collection.update(webhooks=records["webhook_id"], deliveries=records["delivery_id"])
    # By name: the collection "extensions" is also the requests for more time (/cases/extensions/<pk>/).
    by_name["extension_remove"] = records["extension_id"]
    # A channel key of the mini-program's backend.
    from rightscare.open311.services import create_channel_key

    by_collection["channel-keys"] = create_channel_key(by=admin, name="小程序后台", channel="mini_program")[0].pk
    return by_name, by_collection


def _safety_page_ids(org, personas) -> dict[str, int]:
    """A Pingshan domestic-violence case being handled and a resolved one under safety follow-up;
    the administrator dispatches for Pingshan too, so that she may act on both."""
    from rightscare.org.access import forget_grants
    from tests.supervision.safety_helpers import safety_targets

    Membership.objects.get_or_create(user=personas["system_admin"], unit=org.units["pingshan"], role=Role.DISPATCHER, revoked_at=None)
    forget_grants(personas["system_admin"])
    targets = safety_targets(org, personas)
    return {"safety_open": targets["dv_case"].pk, "safety_review": targets["follow_up"].pk, "safety_end": targets["follow_up"].pk}


def _ratings_page_ids(org, personas) -> dict[str, int]:
    """A Pingshan case rated "not solved": the administrator calls back (as the city's return-visit
    officer) and sends it back for rework (as the Pingshan dispatcher, which dispatched it)."""
    from rightscare.org.access import forget_grants
    from tests.ratings.helpers import unsatisfied_case

    admin = personas["system_admin"]
    Membership.objects.get_or_create(user=admin, unit=org.units["city"], role=Role.RETURN_VISIT_OFFICER, revoked_at=None)
    Membership.objects.get_or_create(user=admin, unit=org.units["pingshan"], role=Role.DISPATCHER, revoked_at=None)
    forget_grants(admin)
    case, _order = unsatisfied_case(org, personas, summary="仍未解决。")
    return {"return_visit_record": case.rating_rounds.get().pk, "case_rework": case.pk}


def _assessment_page_ids(org, personas) -> dict[str, int]:
    """A Pingshan case the Pingshan dispatcher asks to exclude from the assessment; the administrator
    supervises Pingshan too, so that she may decide it."""
    from rightscare.assessment.services import request_exclusion
    from rightscare.cases import services as cases
    from rightscare.cases.models import Category
    from rightscare.org.access import forget_grants

    admin, dispatcher, pingshan = personas["system_admin"], personas["dispatcher"], org.units["pingshan"]
    Membership.objects.get_or_create(user=admin, unit=pingshan, role=Role.SUPERVISOR, revoked_at=None)
    forget_grants(admin)
    category = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    case = cases.register_case(
        by=dispatcher, unit=pingshan, request_type="help", category=category, summary="恶意来电。", region=org.regions["pingshan_street"]
    )
    cases.dispatch_case(case=case, by=dispatcher, dispatching_unit=pingshan, lead=org.units["pingshan_street"])
    exclusion = request_exclusion(by=dispatcher, case=case, unit=pingshan, reason="恶意诉求。")
    return {"exclusion_request": case.pk, "exclusion_decide": exclusion.pk}


def _petitioners_page_ids(org, personas) -> dict[str, int]:
    """A request submitted online in Pingshan (with a file), in the queue of the administrator, who
    dispatches for Pingshan here."""
    from rightscare.cases.models import Category
    from rightscare.petitioners import services as petitioners
    from rightscare.petitioners.models import SubmissionFile

    result = petitioners.submit_request(
        channel="web_form",
        submission=petitioners.SubmissionData(
            description="孕期被辞退。",
            category=Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True),
            region=org.regions["pingshan_community"],
            anonymous=True,
            may_call=False,
            files=[petitioners.SubmittedFile(name="合同.pdf", data=b"%PDF-1.4\n%%EOF\n")],
        ),
    )
    pk = result.contact.pk
    return {
        **dict.fromkeys(("submission_detail", "submission_confirm", "submission_attach", "submission_reject"), pk),
        "submission_file": SubmissionFile.objects.get(contact=result.contact).pk,
    }


def _intake_page_ids(org, personas) -> dict[str, int]:
    """A call the administrator took (as a Pingshan dispatcher) and a coming shift of Pingshan's duty roster."""
    from datetime import timedelta

    from rightscare.cases.models import DutyShift
    from rightscare.intake.services import record_contact

    admin, pingshan = personas["system_admin"], org.units["pingshan"]
    contact = record_contact(
        by=admin, unit=pingshan, channel="platform_12345", content="12345转来。", caller_phone="13800138021", external_ticket_number="12345-1"
    )
    start = timezone.now() + timedelta(days=1)
    shift = DutyShift.objects.create(unit=pingshan, user=admin, starts_at=start, ends_at=start + timedelta(hours=12))
    return {
        **dict.fromkeys(("intake_contact_detail", "intake_contact_attach", "intake_contact_detach"), contact.pk),
        **dict.fromkeys(("duty_roster", "duty_add"), pingshan.pk),
        "duty_remove": shift.pk,
    }


def _case_page_ids(org, personas, settings, tmp_path) -> dict[str, int]:
    """A Pingshan case the administrator dispatches (as a Pingshan dispatcher) to her own federation,
    with a file; a transfer to Longhua she answers (as a Longhua dispatcher); a rule and a category."""
    from rightscare.cases import services as cases
    from rightscare.cases.models import Category, ResponsibilityRule
    from rightscare.org.access import forget_grants
    from rightscare.supervision.chasing import send_reminder

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}},
    }
    admin, pingshan, longhua = personas["system_admin"], org.units["pingshan"], org.units["longhua"]
    Membership.objects.create(user=admin, unit=pingshan, role=Role.DISPATCHER)
    Membership.objects.create(user=admin, unit=longhua, role=Role.DISPATCHER)
    # The supervision board and a reminder she sends (as a Pingshan supervisor) and answers (as its dispatcher).
    Membership.objects.create(user=admin, unit=pingshan, role=Role.SUPERVISOR)
    forget_grants(admin)
    category = Category.objects.get(code="pregnancy-discrimination", valid_until__isnull=True)
    case = cases.register_case(
        by=admin,
        unit=pingshan,
        request_type="help",
        category=category,
        summary="孕期被扣工资。",
        region=org.regions["pingshan_street"],
        address="坪山街道某路1号",
    )
    [order] = cases.dispatch_case(case=case, by=admin, dispatching_unit=pingshan, lead=pingshan)
    # A request for more time waiting for her decision, and the current deadline presets.
    from rightscare.supervision.models import ClockPolicy
    from rightscare.supervision.services import request_extension

    order = cases.sign_for_work_order(work_order=order, by=admin)
    extension = request_extension(work_order=order, by=admin, days=3, reason="等待劳动仲裁结果。")
    policy = ClockPolicy.objects.filter(valid_until__isnull=True).order_by("pk").first()
    assert policy is not None
    chase = send_reminder(work_order=order, by=admin, comment="请说明进展。")
    attachment = cases.add_attachment(case=case, by=admin, name="合同.pdf", data=b"%PDF-1.4\n%%EOF\n")
    moving = cases.register_case(by=admin, unit=pingshan, request_type="help", category=category, summary="搬家。", region=org.regions["pingshan_street"])
    transfer = cases.request_transfer(case=moving, by=admin, from_unit=pingshan, to_unit=longhua, reason="搬到龙华。")
    rule = ResponsibilityRule.objects.create(dispatch_level="district", category=category.parent, lead_kind=org.units["pingshan_street"].kind)
    return {
        "cases": case.pk,
        "attachments": attachment.pk,
        "transfers": transfer.pk,
        "work-orders": order.pk,
        "rules": rule.pk,
        "categories": category.pk,
        "chases": chase.pk,
        "extensions": extension.pk,
        "deadlines": policy.pk,
    }


def page_urls(page_ids) -> list[tuple[str, str | None]]:
    """(path, URL name) of every product page, with real ids filled in."""
    by_name, by_collection = page_ids
    urls = []
    for route, pattern in _routes(get_resolver()):
        if route.startswith(SKIPPED_PREFIXES) or route.startswith("^"):
            continue

        def fill(match: re.Match[str], route: str = route, name: str | None = pattern.name) -> str:
            if match.group("converter") != "int":
                pytest.fail(f"no test value for <{match.group(0)}> in {route}: add one to page_ids in {__file__}")
            if name in by_name:
                return str(by_name[name])
            before = route[: match.start()].rstrip("/").split("/")
            collection = before[-1] if before else ""
            if collection not in by_collection:
                pytest.fail(f"no test id for {route} ({name}): add one to page_ids in {__file__}")
            return str(by_collection[collection])

        urls.append(("/" + _PARAMETER.sub(fill, route), pattern.name))
    return urls


def _is_html(response) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


def render_pages(client, page_ids, language: str = "zh-hans") -> dict[str, str]:
    """The HTML of every page (and of the htmx fragment of every searchable list), by path."""
    pages = {}
    for path, _name in page_urls(page_ids):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
        # 302: the sign-in page sends a signed-in user home; 405: POST-only actions.
        assert response.status_code in {200, 302, 405}, (path, response.status_code)
        if response.status_code != 200 or not _is_html(response):
            continue
        pages[path] = response.content.decode()
        if 'id="results"' in pages[path]:
            # The list's search answers htmx with only its #results partial.
            fragment = client.get(path, HTTP_ACCEPT_LANGUAGE=language, HTTP_HX_REQUEST="true")
            assert fragment.status_code == 200, path
            pages[f"{path} (htmx)"] = fragment.content.decode()
    return pages


def test_every_page_is_in_chinese(client, login, personas, page_ids):
    login(personas["system_admin"])
    pages = render_pages(client, page_ids)
    problems = {path: found for path, html in pages.items() if (found := untranslated_phrases(html))}
    assert problems == {}
    assert len(pages) >= 15
    fragments = {path: html for path, html in pages.items() if path.endswith("(htmx)")}
    assert len(fragments) >= 3
    assert all("<html" not in html and "<table" in html for html in fragments.values())


def test_pages_have_no_inline_script_or_style(client, login, personas, page_ids):
    """The Content-Security-Policy (script-src 'self'; style-src 'self') would block them."""
    login(personas["system_admin"])
    for path, html in render_pages(client, page_ids).items():
        # A data block (Django's json_script: type="application/json") is never run; it must hold JSON only.
        assert re.search(r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", html) is None, path
        for data in re.findall(r"<script[^>]*\btype=\"application/json\"[^>]*>(.*?)</script>", html, flags=re.S):
            json.loads(data)
        assert "<style" not in html, path
        assert re.search(r"\sstyle=", html) is None, path
        assert re.search(r"\shx-on", html) is None, path
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", html, flags=re.S | re.I):
            assert "csrfmiddlewaretoken" in form, path


def test_error_pages_are_in_chinese(client, login, personas):
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()
    assert untranslated_phrases(response.content.decode()) == []

    login(personas["volunteer"])
    response = client.get("/org/regions/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    assert "您无权进行此操作" in response.content.decode()
    assert untranslated_phrases(response.content.decode()) == []

    with translation.override("zh-hans"):
        for template in ("errors/400.html", "errors/500.html"):
            html = render_to_string(template, request=RequestFactory().get("/"))
            assert untranslated_phrases(html) == [], template
            assert 'lang="zh-Hans"' in html


@pytest.mark.parametrize(("flags", "expected"), [({"locked_out": True}, "登录失败次数过多"), ({"idle_logout": True}, "由于长时间未操作"), ({}, "登录")])
def test_login_page_states_are_in_chinese(db, flags, expected):
    request = RequestFactory().get("/accounts/login/")
    with translation.override("zh-hans"):
        html = render_to_string("org/login.html", {"form": LoginForm(request), **flags}, request=request)
    assert expected in visible_text(html)
    assert untranslated_phrases(html) == []


def test_login_page_is_in_chinese_by_default(db):
    # A browser that states no language preference gets the default language.
    response = Client().get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'lang="zh-Hans"' in html
    assert "登录" in visible_text(html)
    assert untranslated_phrases(html) == []


def test_english_is_served_when_the_language_cookie_says_so(client, login, personas):
    login(personas["system_admin"])
    client.cookies["rightscare_language"] = "en"
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = visible_text(response.content.decode())
    assert response.status_code == 200
    assert '<html lang="en">' in response.content.decode()
    assert "Log out" in text
    assert "My units and roles" in text
    assert "退出登录" not in text
    assert "Shenzhen Women's Federation" in text  # the unit's English name


def test_dates_follow_chinese_conventions(client, login, personas):
    admin = personas["system_admin"]
    login(admin)
    token, _plain = create_api_token(by=admin, name="12345热线对接", days=30)
    ApiToken.objects.filter(pk=token.pk).update(created_at=datetime(2026, 3, 8, 1, 30, tzinfo=UTC))
    response = client.get("/account/tokens/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    # 01:30 UTC is 09:30 in Beijing.
    assert "2026年3月8日 09:30" in visible_text(response.content.decode())
    expires = timezone.localtime(token.expires_at)
    assert f"{expires.year}年{expires.month}月{expires.day}日" in visible_text(response.content.decode())
