"""One lock that serializes every write to MRR lines, accounts and stored retention results."""

import contextlib

from django.db import connection, transaction

# Arbitrary constant key for PostgreSQL's advisory lock namespace.
_REPORT_LOCK_KEY = 7_302_911


@contextlib.contextmanager
def report_lock():
    """Open a transaction that holds the report lock until it commits or rolls back.

    PostgreSQL takes a transaction-level advisory lock. SQLite needs nothing more:
    the settings open every transaction with BEGIN IMMEDIATE, which takes the
    database's single write lock.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REPORT_LOCK_KEY])
        yield
