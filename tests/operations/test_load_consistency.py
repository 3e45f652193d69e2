"""The load run's consistency checker: it passes while a real recomputation runs and flags figures that disagree."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.roles import Role
from bench.load.browser import Browser
from bench.load.consistency import MonthRead, Totals, check, read_month
from retention.engine import recompute_retention
from retention.models import RetentionCustomer, RetentionResult
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.retention.builders import make_account

MONTH = "2024-06"


def mrr_file(tmp_path, factor: int):
    """Write lines for 2023-06 and 2024-06 of twelve customers in three segments; `factor` scales 2024-06."""
    rows = ["month,account_id,subscription_id,product,quantity,mrr,charge_type"]
    for number in range(12):
        rows.append(f"2023-06,ACC-{number},SUB-{number},Pro,10,{100 + number}.00,recurring")
        rows.append(f"2024-06,ACC-{number},SUB-{number},Pro,10,{(100 + number) * factor // 10}.00,recurring")
    path = tmp_path / f"mrr-{factor}.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def served_book(live_server, tmp_path):
    segments = ["Large", "Mid-Market", "SMB"]
    for number in range(12):
        make_account(f"ACC-{number}", segment=segments[number % 3])
    call_command("import_mrr", str(mrr_file(tmp_path, 10)), verbosity=0)
    UserFactory(username="manager", role=Role.MANAGER)
    browser = Browser(live_server.url)
    browser.login("manager", PASSWORD)
    return browser


@pytest.mark.django_db(transaction=True)
def test_checker_passes_during_recompute(served_book, tmp_path):
    stop = threading.Event()
    recomputations = []

    def recompute_again_and_again():
        from django.db import connection

        # Alternate two versions of the month, so that every recomputation changes its figures.
        factors = [13, 10]
        try:
            while not stop.is_set():
                call_command("import_mrr", str(mrr_file(tmp_path, factors[len(recomputations) % 2])), verbosity=0)
                recomputations.append(recompute_retention([datetime.date(2024, 6, 1)]))
                # Longer than one read, as in the load run, whose imports are 30 seconds apart.
                stop.wait(1.5)
        finally:
            connection.close()

    worker = threading.Thread(target=recompute_again_and_again)
    worker.start()
    try:
        reads = [read_month(served_book, MONTH) for _ in range(20)]
    finally:
        stop.set()
        worker.join(timeout=60)

    assert len(recomputations) >= 2
    assert [read.problems for read in reads] == [[] for _ in reads]
    assert all(read.before.customers == 12 for read in reads)


@pytest.mark.django_db(transaction=True)
def test_checker_flags_missing_customer_rows(served_book):
    RetentionCustomer.objects.filter(month=datetime.date(2024, 6, 1), level="parent", segment="SMB").first().delete()

    read = read_month(served_book, MONTH)

    assert any("CSV rows add up to" in problem for problem in read.problems)


@pytest.mark.django_db(transaction=True)
def test_checker_flags_segment_total_off(served_book):
    RetentionResult.objects.filter(month=datetime.date(2024, 6, 1), level="parent", segment="Large").update(
        b=Decimal("1.00")
    )

    read = read_month(served_book, MONTH)

    assert any("segment Large" in problem for problem in read.problems)
    assert any("the segments add up to" in problem for problem in read.problems)


def test_check_accepts_read_across_commit():
    old = Totals(2, Decimal("10.00"), Decimal("9.00"), Decimal("9.00"))
    new = Totals(2, Decimal("10.00"), Decimal("12.00"), Decimal("10.00"))
    straddling = MonthRead(MONTH, before=old, after=new, csv_overall=new, reasons_reconciled=True)
    mixed = MonthRead(MONTH, before=old, after=new, csv_overall=old + new, reasons_reconciled=True)

    assert check(straddling) == []
    assert check(mixed) != []
