"""``/channels/wechat/``: the official account's server address (服务器地址 URL).

No session, no CSRF token: WeChat's calls are authenticated by their signature alone
(``rightscare.wechat.services``). GET is the address check made when the URL is saved
(echo ``echostr``); POST delivers a message or event, answered at once with a passive
reply (XML, encrypted in safe mode) or ``success``. Anything unsigned, wrongly signed or
stale gets 403 and nothing is stored.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from rightscare.core.problems import problem_response
from rightscare.wechat import services

#: The largest message read (a text message is at most a few kilobytes).
MAX_BODY = 64 * 1024


def _refused() -> HttpResponse:
    return problem_response(403, detail="The signature is missing or wrong.")


def _site_url(request: HttpRequest) -> str:
    return str(settings.WECHAT_PUBLIC_SITE_URL or "") or request.build_absolute_uri("/")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest) -> HttpResponse:
    """Check WeChat's signature, then echo the address check (GET) or answer the message (POST)."""
    query = services.CallbackQuery.from_params(request.GET)
    if request.method == "GET":
        try:
            echo = services.verify_url(query)
        except services.Refused:
            return _refused()
        return HttpResponse(echo, content_type="text/plain; charset=utf-8")
    try:
        body = request.body
    except RawPostDataException:  # a form body a middleware already read: not a WeChat message
        return _refused()
    if len(body) > MAX_BODY:
        return problem_response(413, detail="The message is too large.")
    try:
        xml = services.open_message(body=body, query=query)
        text, incoming = services.receive_message(xml=xml, site_url=_site_url(request), safe=services.safe_mode())
    except services.Refused:
        return _refused()
    except services.Malformed:
        return problem_response(400, detail="The message cannot be read.")
    reply = services.seal_reply(reply_xml=services.render_reply(text=text, incoming=incoming), query=query)
    if reply == services.NO_REPLY:
        return HttpResponse(reply, content_type="text/plain; charset=utf-8")
    return HttpResponse(reply, content_type="application/xml; charset=utf-8")
