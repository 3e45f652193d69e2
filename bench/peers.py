"""Gross and net retention from the benchmark's CSV files with the tools a data analyst would use.

Run as `python bench/peers.py pandas|duckdb ACCOUNTS_CSV MRR_CSV`. Prints one JSON
object: {"seconds": ..., "results": {"level|YYYY-MM": [customers, a, b, c]}},
amounts in cents. Only the parent level follows the hierarchy.
"""

import json
import sys
import time


def month_index(text):
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def month_name(index):
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def with_pandas(accounts_path, mrr_path):
    import pandas as pd

    accounts = pd.read_csv(accounts_path, dtype=str, keep_default_na=False)
    parent_of = dict(zip(accounts["account_id"], accounts["parent_account_id"], strict=True))

    def top(account):
        while parent_of.get(account):
            account = parent_of[account]
        return account

    accounts["top"] = accounts["account_id"].map(top)
    lines = pd.read_csv(
        mrr_path,
        dtype={"month": str, "account_id": str, "subscription_id": str, "mrr": str},
        usecols=["month", "account_id", "subscription_id", "mrr"],
    )
    lines["cents"] = lines["mrr"].str.replace(".", "", regex=False).astype("int64")
    lines["month_index"] = lines["month"].map(month_index)
    lines = lines.merge(accounts[["account_id", "top"]], on="account_id")
    targets = set(lines["month_index"])

    results = {}
    for level, key in (("parent", "top"), ("account", "account_id"), ("subscription", "subscription_id")):
        totals = lines.groupby([key, "month_index"], as_index=False)["cents"].sum()
        base = totals[totals["cents"] > 0].copy()
        base["month_index"] += 12
        base = base[base["month_index"].isin(targets)]
        joined = base.merge(totals, on=[key, "month_index"], how="left", suffixes=("_a", "_b")).fillna({"cents_b": 0})
        joined["c"] = joined[["cents_a", "cents_b"]].min(axis=1)
        grouped = joined.groupby("month_index").agg(
            customers=(key, "size"), a=("cents_a", "sum"), b=("cents_b", "sum"), c=("c", "sum")
        )
        for index, row in grouped.iterrows():
            results[f"{level}|{month_name(index)}"] = [int(row.customers), int(row.a), int(row.b), int(row.c)]
    return results


DUCKDB_SQL = """
WITH RECURSIVE accounts AS (
    SELECT * FROM read_csv('{accounts}', header = true, all_varchar = true)
),
tops (account_id, top) AS (
    SELECT account_id, account_id FROM accounts WHERE COALESCE(parent_account_id, '') = ''
    UNION ALL
    SELECT child.account_id, tops.top FROM accounts child JOIN tops ON child.parent_account_id = tops.account_id
),
lines AS (
    SELECT line.month, line.account_id, line.subscription_id, tops.top,
           CAST(REPLACE(line.mrr, '.', '') AS BIGINT) AS cents
    FROM read_csv('{mrr}', header = true, all_varchar = true) line
    JOIN tops ON tops.account_id = line.account_id
),
per_customer AS (
    SELECT 'parent' AS level, top AS customer, month, SUM(cents) AS cents FROM lines GROUP BY ALL
    UNION ALL
    SELECT 'account', account_id, month, SUM(cents) FROM lines GROUP BY ALL
    UNION ALL
    SELECT 'subscription', subscription_id, month, SUM(cents) FROM lines GROUP BY ALL
),
keyed AS (
    SELECT level, customer, CAST(SUBSTR(month, 1, 4) AS INTEGER) * 12 + CAST(SUBSTR(month, 6, 2) AS INTEGER) - 1
           AS month_index, cents
    FROM per_customer
),
months AS (SELECT DISTINCT month_index FROM keyed)
SELECT base.level, base.month_index + 12, COUNT(*), SUM(base.cents), SUM(COALESCE(cur.cents, 0)),
       SUM(LEAST(base.cents, COALESCE(cur.cents, 0)))
FROM keyed base
LEFT JOIN keyed cur
  ON cur.level = base.level AND cur.customer = base.customer AND cur.month_index = base.month_index + 12
WHERE base.cents > 0 AND base.month_index + 12 IN (SELECT month_index FROM months)
GROUP BY ALL
"""


def with_duckdb(accounts_path, mrr_path):
    import duckdb

    rows = duckdb.sql(DUCKDB_SQL.format(accounts=accounts_path, mrr=mrr_path)).fetchall()
    return {f"{level}|{month_name(index)}": [int(n), int(a), int(b), int(c)] for level, index, n, a, b, c in rows}


def main():
    tool, accounts_path, mrr_path = sys.argv[1:4]
    started = time.perf_counter()
    results = {"pandas": with_pandas, "duckdb": with_duckdb}[tool](accounts_path, mrr_path)
    print(json.dumps({"seconds": time.perf_counter() - started, "results": results}))


if __name__ == "__main__":
    main()
