"""One database snapshot per request for pages that make several queries."""

import functools

from django.db import connection, transaction
from psycopg import IsolationLevel


def read_snapshot(view):
    """Run a read-only view in one REPEATABLE READ transaction, so that all of its queries see the same commits.

    Under PostgreSQL's default READ COMMITTED each query reads the rows committed before it started, so a
    recomputation that commits between two queries of one page would show one run's totals beside another
    run's rows. Inside an open transaction, as in tests, the view runs in that transaction. SQLite runs the
    view unchanged, because there a transaction would take the database's write lock.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return view(request, *args, **kwargs)
        connection.ensure_connection()
        raw = connection.connection
        previous = raw.isolation_level, raw.read_only
        # psycopg opens the next transaction with BEGIN ISOLATION LEVEL
        # REPEATABLE READ READ ONLY, so the snapshot costs no extra statement.
        raw.isolation_level, raw.read_only = IsolationLevel.REPEATABLE_READ, True
        try:
            with transaction.atomic():
                return view(request, *args, **kwargs)
        finally:
            if not raw.closed:
                raw.isolation_level, raw.read_only = previous

    return wrapper
