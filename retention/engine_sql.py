"""The SQL of a recomputation, used by the run in engine.py and by its worker connections in engine_workers.py.

The statements fill a month's work tables, store its customer rows and add those up into TAM, reason and segment totals.
"""

import contextlib
import datetime

from django.db import DatabaseError, connection

from common.months import add_months

from .importing.staging import drop_temporary_table_sql
from .models import Level

# The work tables of one recomputation, created in its transaction and dropped at its end.
# Each subscription's account and ultimate parent, with the owning TAM of
# both and the segment of the ultimate parent:
KEYS_TABLE = "tamarind_work_keys"
# One month's pairs: per subscription and product, MRR in M-12 (a) and M (b),
# recurring MRR (ra, rb) and recurring seats (sa, sb):
_PAIRS_TABLE = "tamarind_work_pairs"

# The query of the work table of keys.
_KEYS_SQL = """
SELECT sub.id AS subscription_id, acc.id AS account_id, top.id AS parent_id,
       acc.tam_id AS account_tam_id, top.tam_id AS parent_tam_id,
       CASE WHEN top.segment = '' THEN 'none' ELSE top.segment END AS segment
FROM accounts_subscription sub
JOIN accounts_account acc ON acc.id = sub.account_id
JOIN accounts_account top ON top.id = COALESCE(acc.ultimate_parent_id, acc.id)"""

WORK_TABLES = {
    KEYS_TABLE: f"CREATE TEMPORARY TABLE {KEYS_TABLE} AS {_KEYS_SQL}",
    _PAIRS_TABLE: f"""
        CREATE TEMPORARY TABLE {_PAIRS_TABLE} (
            subscription_id bigint, account_id bigint, parent_id bigint,
            account_tam_id bigint, parent_tam_id bigint, segment varchar(12), product varchar(100),
            a bigint, b bigint, ra bigint, rb bigint, sa bigint, sb bigint
        )""",
}

# A pair's sums of the lines of M-12 (a, ra, sa) and M (b, rb, sb), whose parameters are
# M-12, M, M-12, M, M-12, M. {sum} adds up 64-bit integers (see sum_function_name).
_PAIR_SUMS = """COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s), 0) AS a,
    COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s), 0) AS b,
    COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS ra,
    COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS rb,
    COALESCE({sum}(line.quantity) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS sa,
    COALESCE({sum}(line.quantity) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS sb"""

# The lines of M-12 and M, summed per subscription and product, with the
# subscription's keys. Every level adds up these rows, so the lines are read
# once per month. {keys} is the work table of keys, or its query in a run of
# one month, which reads the keys once. {sum} adds up 64-bit integers (see
# sum_function_name).
_PAIRS_SQL = f"""
INSERT INTO {_PAIRS_TABLE} (
    subscription_id, account_id, parent_id, account_tam_id, parent_tam_id, segment, product, a, b, ra, rb, sa, sb
)
SELECT per_product.subscription_id, k.account_id, k.parent_id, k.account_tam_id, k.parent_tam_id, k.segment,
       per_product.product, per_product.a, per_product.b, per_product.ra, per_product.rb,
       per_product.sa, per_product.sb
FROM (
    SELECT line.subscription_id, line.product,
           {_PAIR_SUMS}
    FROM retention_mrrline line
    WHERE line.month IN (%s, %s)
    GROUP BY line.subscription_id, line.product
) per_product
JOIN {{keys}} k ON k.subscription_id = per_product.subscription_id
"""

# The pairs of the subscriptions whose ultimate parent id lies in a range, for a unit that computes
# part of a month. The lines are joined to the keys of the range before they are summed, so that
# each unit sums only its own lines.
PART_PAIRS_SQL = f"""
INSERT INTO {_PAIRS_TABLE} (
    subscription_id, account_id, parent_id, account_tam_id, parent_tam_id, segment, product, a, b, ra, rb, sa, sb
)
SELECT line.subscription_id, k.account_id, k.parent_id, k.account_tam_id, k.parent_tam_id, k.segment, line.product,
       {_PAIR_SUMS}
FROM retention_mrrline line
JOIN ({_KEYS_SQL} WHERE COALESCE(acc.ultimate_parent_id, acc.id) BETWEEN %s AND %s) k
  ON k.subscription_id = line.subscription_id
WHERE line.month IN (%s, %s)
GROUP BY line.subscription_id, line.product, k.account_id, k.parent_id, k.account_tam_id, k.parent_tam_id, k.segment
"""

# The pairs of each level's customer, per product: the customer's account,
# its subscription or NULL, its owning TAM and segment.
_PER_PRODUCT_SUMS = "{sum}(a) AS a, {sum}(b) AS b, {sum}(ra) AS ra, {sum}(rb) AS rb, {sum}(sa) AS sa, {sum}(sb) AS sb"
_LEVEL_PAIRS = {
    Level.PARENT: f"""
        SELECT parent_id AS account_id, CAST(NULL AS BIGINT) AS subscription_id,
               MIN(parent_tam_id) AS tam_id, MIN(segment) AS segment, product, {_PER_PRODUCT_SUMS}
        FROM {_PAIRS_TABLE} GROUP BY parent_id, product""",
    Level.ACCOUNT: f"""
        SELECT account_id, CAST(NULL AS BIGINT) AS subscription_id,
               MIN(account_tam_id) AS tam_id, MIN(segment) AS segment, product, {_PER_PRODUCT_SUMS}
        FROM {_PAIRS_TABLE} GROUP BY account_id, product""",
    Level.SUBSCRIPTION: f"""
        SELECT account_id, subscription_id, account_tam_id AS tam_id, segment, product, a, b, ra, rb, sa, sb
        FROM {_PAIRS_TABLE}""",
}

# One INSERT ... SELECT per month and level, from that month's pairs. The
# inner query sums a customer's products, with the recurring MRR, seats and
# product sets that decide the reason. Only customers with A > 0 are kept. The
# segment and owning TAM come from the work table of keys. Reasons follow
# this order of tests:
#   recurring B = A        no reason
#   recurring B = 0        Cancellation, amount A
#   recurring B < A        Downgrade, amount A - B (a negative B too)
#   same product set       Seat Expansion with more seats, else Discount/Price Change
#   other products         Product Change with the same seats, else the mix
# Two product sets are the same when both have as many products as they share.
_CUSTOMER_SQL = """
INSERT INTO retention_retentioncustomer (
    {id_column}month, level, account_id, subscription_id, segment, tam_id, a, b, c,
    recurring_a, recurring_b, seats_a, seats_b, reason, reason_amount
)
SELECT {id_value}%s, %s, totals.account_id, totals.subscription_id, totals.segment, totals.tam_id,
       totals.a, totals.b,
       CASE WHEN totals.b < totals.a THEN totals.b ELSE totals.a END,
       totals.ra, totals.rb, totals.seats_a, totals.seats_b,
       CASE
           WHEN totals.rb = totals.ra THEN ''
           WHEN totals.rb = 0 THEN 'cancellation'
           WHEN totals.rb < totals.ra THEN 'downgrade'
           WHEN totals.count_a = totals.count_b AND totals.count_a = totals.count_both THEN
               CASE WHEN totals.seats_b > totals.seats_a THEN 'seat_expansion' ELSE 'price_change' END
           WHEN totals.seats_b = totals.seats_a THEN 'product_change'
           ELSE 'product_seat_mix'
       END,
       CASE
           WHEN totals.rb = 0 THEN totals.ra
           WHEN totals.rb < totals.ra THEN totals.ra - totals.rb
           ELSE totals.rb - totals.ra
       END
FROM (
    SELECT account_id, subscription_id, MIN(tam_id) AS tam_id, MIN(segment) AS segment,
           {sum}(a) AS a, {sum}(b) AS b, {sum}(ra) AS ra, {sum}(rb) AS rb, {sum}(sa) AS seats_a, {sum}(sb) AS seats_b,
           COUNT(*) FILTER (WHERE ra > 0) AS count_a,
           COUNT(*) FILTER (WHERE rb > 0) AS count_b,
           COUNT(*) FILTER (WHERE ra > 0 AND rb > 0) AS count_both
    FROM ({level_pairs}) per_product
    GROUP BY account_id, subscription_id
    HAVING {sum}(a) > 0
) totals
"""

# The customer rows of one month and level, read through their range of ids,
# added up per segment, owning TAM and reason. The reason and segment totals
# below add up these few rows.
TAM_TOTALS_SELECT = """
SELECT month, level, segment, tam_id, reason, COUNT(*), {sum}(a), {sum}(b), {sum}(c),
       {sum}(recurring_a), {sum}(recurring_b), {sum}(reason_amount)
FROM retention_retentioncustomer
WHERE id BETWEEN %s AND %s
GROUP BY month, level, segment, tam_id, reason
"""
TAM_TOTAL_COLUMNS = "month, level, segment, tam_id, reason, customers, a, b, c, recurring_a, recurring_b, reason_amount"
TAM_TOTALS_SQL = f"INSERT INTO retention_tamtotal ({TAM_TOTAL_COLUMNS}) {TAM_TOTALS_SELECT}"

# Reason totals per segment, then over all segments, of the given months.
REASON_TOTALS_SQL = """
INSERT INTO retention_reasontotal (month, level, segment, reason, customers, amount)
SELECT month, level, segment, reason, SUM(customers), SUM(reason_amount)
FROM retention_tamtotal
WHERE month IN ({months}) AND reason <> ''
GROUP BY month, level, segment, reason
UNION ALL
SELECT month, level, 'all', reason, SUM(customers), SUM(reason_amount)
FROM retention_tamtotal
WHERE month IN ({months}) AND reason <> ''
GROUP BY month, level, reason
"""

# Per-segment sums of the given months.
SEGMENT_TOTALS_SQL = """
SELECT month, level, segment, SUM(customers), SUM(a), SUM(b), SUM(c), SUM(recurring_a), SUM(recurring_b)
FROM retention_tamtotal
WHERE month IN ({months})
GROUP BY month, level, segment
"""

# The settings of a recomputation's transaction on PostgreSQL; see work_tables.
POSTGRESQL_SETTINGS = ("SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off")


def sum_function_name() -> str:
    """Return the aggregate that adds up 64-bit integers.

    PostgreSQL's SUM of bigint returns numeric, and numeric arithmetic is slow.
    tamarind_sum, created by a migration, keeps a bigint and raises an error on
    overflow. SQLite's SUM of integers already returns an integer.
    """
    return "tamarind_sum" if connection.vendor == "postgresql" else "SUM"


def customer_statements(*, explicit_ids: bool) -> dict[Level, str]:
    """Return each level's statement that stores the customers of a month from the work table of pairs.

    With `explicit_ids` the statement takes the id before the first row's as
    its first parameter and numbers the rows from there.
    """
    sum_function = sum_function_name()
    return {
        level: _CUSTOMER_SQL.format(
            level_pairs=_LEVEL_PAIRS[level].format(sum=sum_function),
            sum=sum_function,
            id_column="id, " if explicit_ids else "",
            id_value="%s + row_number() OVER (), " if explicit_ids else "",
        )
        for level in Level
    }


def pairs_statement(*, keys_table: bool) -> str:
    """Return the statement that fills the work table of pairs, reading the keys from their work table or not."""
    return _PAIRS_SQL.format(sum=sum_function_name(), keys=KEYS_TABLE if keys_table else f"({_KEYS_SQL})")


def fill_pairs(
    cursor, pairs_sql: str, month: datetime.date, *, analyze: bool, parents: tuple[int, int] | None = None
) -> int:
    """Replace the work table of pairs with those of `month` and return how many there are.

    With `parents`, `pairs_sql` is `PART_PAIRS_SQL`, and the pairs are those of the
    ultimate parents in that range of ids.
    """
    baseline = add_months(month, -12)
    cursor.execute(f"{'TRUNCATE' if connection.vendor == 'postgresql' else 'DELETE FROM'} {_PAIRS_TABLE}")
    if parents is None:
        cursor.execute(pairs_sql, [baseline, month, baseline, month, baseline, month, baseline, month])
    else:
        cursor.execute(pairs_sql, [baseline, month, baseline, month, baseline, month, *parents, baseline, month])
    count = cursor.rowcount
    if analyze:
        # Statistics let the planner size the hash tables of the level
        # statements. Months have pairs of a similar size, so the first
        # month's statistics serve the rest of the run.
        cursor.execute(f"ANALYZE {_PAIRS_TABLE}")
    return count


@contextlib.contextmanager
def work_tables(cursor, *, keys_table: bool, analyze: bool):
    """Create the work tables for one recomputation, the table of keys only with `keys_table`, and drop them at the end.

    On PostgreSQL the run's sorts and hashes get more memory than the server's
    default before they spill to disk, and no statement is compiled with JIT,
    whose compile time exceeded its gain on these statements. The settings end
    with the transaction. `analyze` gathers statistics on the table of keys.
    """
    if connection.vendor == "postgresql":
        for statement in POSTGRESQL_SETTINGS:
            cursor.execute(statement)
    _drop_work_tables(cursor)
    for name, create_sql in WORK_TABLES.items():
        if name == KEYS_TABLE and not keys_table:
            continue
        cursor.execute(create_sql)
        if analyze and connection.vendor == "postgresql" and name == KEYS_TABLE:
            cursor.execute(f"ANALYZE {name}")
    try:
        yield
    except BaseException:
        # An aborted PostgreSQL transaction rejects the DROP; its rollback
        # removes the temporary tables anyway.
        with contextlib.suppress(DatabaseError):
            _drop_work_tables(cursor)
        raise
    _drop_work_tables(cursor)


def _drop_work_tables(cursor) -> None:
    for name in WORK_TABLES:
        cursor.execute(drop_temporary_table_sql(name))
