import csv
import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from retention.models import MrrLine


def generate(directory, seed=3):
    call_command(
        "generate_demo_data",
        "--parents",
        "60",
        "--months",
        "24",
        "--seed",
        str(seed),
        "--last-month",
        "2024-12",
        "--output",
        str(directory),
        stdout=StringIO(),
    )
    return {name: (directory / name).read_bytes() for name in ("accounts.csv", "mrr.csv")}


def test_same_seed_writes_same_files(tmp_path):
    first = generate(tmp_path / "one")
    second = generate(tmp_path / "two")
    other = generate(tmp_path / "three", seed=4)

    assert hashlib.sha256(first["mrr.csv"]).digest() == hashlib.sha256(second["mrr.csv"]).digest()
    assert first["accounts.csv"] == second["accounts.csv"]
    assert first["mrr.csv"] != other["mrr.csv"]


def test_generated_lines_cover_each_kind_of_change(tmp_path):
    generate(tmp_path)
    with open(tmp_path / "accounts.csv", newline="") as accounts_file:
        accounts = list(csv.DictReader(accounts_file))
    with open(tmp_path / "mrr.csv", newline="") as mrr_file:
        lines = list(csv.DictReader(mrr_file))

    assert any(account["parent_account_id"] for account in accounts)
    assert {line["month"] for line in lines} <= {
        f"{year}-{month:02d}" for year in (2023, 2024) for month in range(1, 13)
    }
    assert {line["charge_type"] for line in lines} == {"recurring", "trueup"}
    history = {}
    for line in lines:
        if line["charge_type"] == "recurring":
            history.setdefault(line["subscription_id"], []).append(
                (line["month"], line["product"], int(line["quantity"]))
            )
    products_changed = any(len({product for _, product, _ in months}) > 1 for months in history.values())
    seats_changed = any(len({seats for _, _, seats in months}) > 1 for months in history.values())
    gaps = any(len(months) < 24 and months[-1][0] != "2024-12" for months in history.values())
    assert products_changed
    assert seats_changed
    assert gaps


def test_generated_files_import_cleanly(tmp_path, db):
    generate(tmp_path)

    call_command("import_accounts", str(tmp_path / "accounts.csv"), stdout=StringIO(), stderr=StringIO())
    call_command("import_mrr", str(tmp_path / "mrr.csv"), stdout=StringIO(), stderr=StringIO())

    with open(tmp_path / "mrr.csv", newline="") as mrr_file:
        assert MrrLine.objects.count() == sum(1 for _ in mrr_file) - 1


def test_rejects_zero_parents(tmp_path):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("generate_demo_data", "--parents", "0", "--output", str(tmp_path))
