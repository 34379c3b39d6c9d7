"""API operations of the inbox: my messages, and marking one read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.db.models import QuerySet
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from rightscare.core.pagination import Pagination
from rightscare.notifications import selectors, services
from rightscare.notifications.models import Message
from rightscare.org.http import StaffRequest

router = Router(tags=["inbox"])

#: A database id: bigger numbers cannot exist and would overflow the database's integer.
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class InboxMessageOut(Schema):
    id: int
    event: str
    subject: str
    body: str
    created_at: datetime
    read_at: datetime | None


@router.get("/inbox", response=list[InboxMessageOut], summary="My inbox: unread first, newest first")
@paginate(Pagination)
def list_inbox(request: StaffRequest, unread: bool = False) -> QuerySet[Message]:
    messages = selectors.inbox(request.user)
    if unread:
        messages = messages.unread()
    return messages


@router.post("/inbox/{message_id}/read", response=InboxMessageOut, summary="Mark one of my messages read")
def read_message(request: StaffRequest, message_id: RecordId) -> Message:
    message = selectors.access_inbox_message(request.user, message_id)
    return services.mark_read(by=request.user, message=message)
