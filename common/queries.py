"""Limits that keep a query valid on both PostgreSQL and SQLite."""

# Values per `IN` list, below the 999 parameters per query of SQLite before 3.32. Callers split longer
# lists with `itertools.batched`.
VALUES_PER_QUERY = 500
