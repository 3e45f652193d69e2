"""Pagination of lists whose length the page has already read."""

from django.core.paginator import Paginator


class CountedPaginator(Paginator):
    """A paginator given the number of items, so that it runs no COUNT query.

    The count must be that of `object_list`: a stored total read in the same
    snapshot as the list, for instance.
    """

    def __init__(self, object_list, per_page, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        # Paginator.count is a cached property, so the instance attribute replaces it.
        self.count = count
