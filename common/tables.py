"""Shared behaviour of the django-tables2 tables."""


class FixedPageSize:
    """Mixin for a table that pages at `rows_per_page` rows, whatever `per_page` the query string gives.

    RequestConfig reads `per_page` from the query string. A value below 1 would
    make every page number invalid and the page fail, and a large one would
    render every row at once.
    """

    rows_per_page = 25

    def paginate(self, *args, per_page=None, **kwargs):
        return super().paginate(*args, per_page=self.rows_per_page, **kwargs)
