"""API pagination with bounds the database can answer."""

from django.conf import settings
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

#: The deepest offset a client may ask for; deeper browsing needs filters, not paging.
MAX_OFFSET = 1_000_000


class Pagination(LimitOffsetPagination):
    """``limit``/``offset`` paging whose offset is bounded (an unbounded one overflows SQL integers)."""

    class Input(Schema):
        limit: int = Field(settings.NINJA_PAGINATION_PER_PAGE, ge=1, le=settings.NINJA_PAGINATION_MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)
