"""Limits that keep a query valid on both PostgreSQL and SQLite."""

# Values per `IN` list. SQLite takes at most 32,766 parameters per query by default, and a list of any
# length fits once callers split it with `itertools.batched`.
VALUES_PER_QUERY = 500
