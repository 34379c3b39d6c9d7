"""The administrators' pages of channel keys: the list, a new key (shown once) and revocation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import run_once
from rightscare.open311 import services
from rightscare.open311.forms import ChannelKeyForm
from rightscare.open311.models import ChannelKey
from rightscare.org.http import StaffRequest


def _require_manager(request: StaffRequest) -> None:
    if not services.may_manage_channel_keys(request.user):
        raise PermissionDenied


@login_required
def channel_key_list(request: StaffRequest) -> HttpResponse:
    """Every channel key; a new key is shown once, right after it is created."""
    _require_manager(request)
    form = ChannelKeyForm(request.POST or None)
    shown: str | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created: dict[str, str] = {}

        def create() -> str:
            key, plain = services.create_channel_key(
                by=request.user, name=data["name"], channel=data["channel"], trusted=data["trusted"], rate_limit=data["rate_limit"]
            )
            created["plain"] = plain
            return str(key.pk)

        try:
            _result, ran = run_once(user_id=request.user.pk, scope="page:create_channel_key", key=data["idempotency_key"], create=create)
            if ran:
                shown = created["plain"]
                form = ChannelKeyForm()
            else:
                messages.info(request, _("This key was already created; its value was shown once."))
        except ValidationError as error:
            apply_errors(form, error)
    keys = ChannelKey.objects.select_related("created_by")
    return render(request, "open311/channel_key_list.html", {"form": form, "keys": keys, "shown": shown}, status=422 if form.errors else 200)


@login_required
@require_POST
def channel_key_revoke(request: StaffRequest, pk: int) -> HttpResponse:
    """Revoke a key at once: its backend's next request is refused."""
    _require_manager(request)
    services.revoke_channel_key(by=request.user, key=get_object_or_404(ChannelKey, pk=pk))
    messages.success(request, _("The channel key has been revoked."))
    return redirect("channel_key_list")
