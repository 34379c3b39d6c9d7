"""API pagination with bounds the database can answer."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet, Window
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

#: The deepest offset a client may ask for; deeper browsing needs filters, not paging.
MAX_OFFSET = 1_000_000


class Pagination(LimitOffsetPagination):
    """``limit``/``offset`` paging whose offset is bounded (an unbounded one overflows SQL integers)."""

    class Input(Schema):
        limit: int = Field(settings.NINJA_PAGINATION_PER_PAGE, ge=1, le=settings.NINJA_PAGINATION_MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)


class OneReadPagination(Pagination):
    """``Pagination`` for a scoped list whose filter is costly: the filter computed once per page.

    ``LimitOffsetPagination`` counts the rows and then reads the page, so a case search
    computed her scope (``listed_for``'s union) twice. Here one statement filters and sorts
    only the ids and returns the page's ids with the number of rows (``COUNT(*) OVER ()``),
    and ``rows(ids)`` reads those few rows — ids the scoped queryset gave, so no other row —
    with whatever the items need (annotations computed for the page only). The web pages'
    counterpart is ``cases.views.OneReadPaginator``. An offset past the end reads an empty
    page and then counts (the one case with two statements).
    """

    def __init__(self, *, rows: Callable[[list[int]], QuerySet[Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows

    def paginate_queryset(self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any) -> Any:
        offset = pagination.offset
        limit = min(pagination.limit, self.max_limit)
        found = list(queryset.annotate(rows_in_list=Window(Count("*"))).values_list("pk", "rows_in_list")[offset : offset + limit])
        if not found:
            return {self.items_attribute: [], "count": queryset.count() if offset else 0}
        by_id = {row.pk: row for row in self.rows([pk for pk, _count in found])}
        return {self.items_attribute: [by_id[pk] for pk, _count in found if pk in by_id], "count": found[0][1]}
