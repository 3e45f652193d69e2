import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Segment
from retention.engine import recompute_retention
from retention.models import Level, RetentionCustomer, RetentionResult, SegmentKey

from .builders import add_lines, make_account

JUNE_2024 = datetime.date(2024, 6, 1)


def result(month=JUNE_2024, level=Level.PARENT, segment=SegmentKey.ALL):
    return RetentionResult.objects.get(month=month, level=level, segment=segment)


def test_worked_example_figures(db):
    add_lines(
        [
            ("2023-06", "X", "SUB-X", "Premium", 5, "50.00", "recurring"),
            ("2024-06", "X", "SUB-X", "Premium", 10, "100.00", "recurring"),
            ("2023-06", "Y", "SUB-Y", "Premium", 5, "125.00", "recurring"),
            ("2024-06", "Y", "SUB-Y", "Premium", 4, "100.00", "recurring"),
        ]
    )
    recompute_retention()

    figures = result()
    assert figures.customers == 2
    assert figures.a == Decimal("175.00")
    assert figures.b == Decimal("200.00")
    assert figures.c == Decimal("150.00")
    assert figures.gross_pct == Decimal("85.71")
    assert figures.net_pct == Decimal("114.29")


def test_new_customer_is_left_out(db):
    add_lines(
        [
            ("2023-06", "OLD", "SUB-OLD", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "OLD", "SUB-OLD", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "NEW", "SUB-NEW", "Premium", 1, "900.00", "recurring"),
        ]
    )
    recompute_retention()

    assert result().customers == 1
    assert result().net_pct == Decimal("100.00")
    assert not RetentionCustomer.objects.filter(month=JUNE_2024, account__external_id="NEW").exists()


def test_returning_customer_left_out(db):
    add_lines(
        [
            ("2023-01", "BACK", "SUB-B", "Premium", 1, "100.00", "recurring"),
            ("2023-06", "STAY", "SUB-S", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "STAY", "SUB-S", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "BACK", "SUB-B", "Premium", 1, "500.00", "recurring"),
        ]
    )
    recompute_retention()

    assert result().customers == 1
    assert result().b == Decimal("100.00")


@pytest.mark.parametrize("baseline", ["0.00", "-20.00"], ids=["zero", "negative"])
def test_nonpositive_baseline_not_customer(db, baseline):
    add_lines(
        [
            ("2023-06", "CREDIT", "SUB-C1", "Premium", 1, "50.00", "recurring"),
            ("2023-06", "CREDIT", "SUB-C2", "Premium", 1, f"{Decimal(baseline) - Decimal('50.00')}", "recurring"),
            ("2024-06", "CREDIT", "SUB-C1", "Premium", 1, "80.00", "recurring"),
            ("2023-06", "PAYING", "SUB-P", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "PAYING", "SUB-P", "Premium", 1, "100.00", "recurring"),
        ]
    )
    recompute_retention()

    assert result().customers == 1
    assert result().a == Decimal("100.00")


def test_month_without_cohort_is_not_available(db):
    add_lines([("2024-01", "A1", "SUB-A1", "Premium", 1, "100.00", "recurring")], cover=["2024-06"])
    recompute_retention()

    figures = result()
    assert figures.customers == 0
    assert figures.gross_pct is None
    assert figures.net_pct is None


def test_month_where_everyone_left_is_zero_percent(db):
    add_lines([("2023-06", "GONE", "SUB-G", "Premium", 1, "100.00", "recurring")], cover=["2024-06"])
    recompute_retention()

    assert result().customers == 1
    assert result().gross_pct == Decimal("0.00")
    assert result().net_pct == Decimal("0.00")


def test_months_outside_the_data_span_have_no_result(db):
    add_lines(
        [
            ("2023-06", "Y1", "SUB-Y1", "Premium", 10, "100.00", "recurring"),
            ("2024-05", "Y1", "SUB-Y1", "Premium", 10, "100.00", "recurring"),
        ]
    )
    recompute_retention()

    assert not RetentionResult.objects.filter(month=JUNE_2024).exists()
    assert RetentionResult.objects.filter(month=datetime.date(2024, 5, 1), level=Level.PARENT).count() == 5
    months = sorted(set(RetentionResult.objects.values_list("month", flat=True)))
    assert months[0] == datetime.date(2023, 6, 1)
    assert months[-1] == datetime.date(2024, 5, 1)
    assert len(months) == 12


def test_moving_an_account_restates_history(db):
    north = make_account("NORTH")
    south = make_account("SOUTH")
    child = make_account("CHILD", parent=north)
    add_lines(
        [
            ("2023-06", "NORTH", "SUB-N", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "NORTH", "SUB-N", "Premium", 1, "100.00", "recurring"),
            ("2023-06", "SOUTH", "SUB-S", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "SOUTH", "SUB-S", "Premium", 1, "100.00", "recurring"),
            ("2023-06", "CHILD", "SUB-C", "Premium", 1, "50.00", "recurring"),
            ("2024-06", "CHILD", "SUB-C", "Premium", 1, "50.00", "recurring"),
        ]
    )
    recompute_retention()
    assert RetentionCustomer.objects.get(month=JUNE_2024, level=Level.PARENT, account=north).a == Decimal("150.00")

    child.parent = south
    child.ultimate_parent = south
    child.save()
    recompute_retention()

    assert RetentionCustomer.objects.get(month=JUNE_2024, level=Level.PARENT, account=north).a == Decimal("100.00")
    assert RetentionCustomer.objects.get(month=JUNE_2024, level=Level.PARENT, account=south).b == Decimal("150.00")
    assert result().gross_pct == Decimal("100.00")
    assert result().customers == 2


def test_three_levels_net_inside_a_parent(db):
    holding = make_account("00123", segment=Segment.LARGE, name="Globex Holding")
    make_account("00456", parent=holding, segment=Segment.LARGE, name="Globex EU")
    add_lines(
        [
            ("2023-06", "00123", "SUB-0008", "Premium", 5, "250.00", "recurring"),
            ("2023-06", "00456", "SUB-0009", "Premium", 10, "500.00", "recurring"),
            ("2024-06", "00456", "SUB-0009", "Premium", 12, "600.00", "recurring"),
        ]
    )
    recompute_retention()

    parent = result(level=Level.PARENT)
    assert (parent.customers, parent.a, parent.b, parent.c) == (
        1,
        Decimal("750.00"),
        Decimal("600.00"),
        Decimal("600.00"),
    )
    assert (parent.gross_pct, parent.net_pct) == (Decimal("80.00"), Decimal("80.00"))

    account = result(level=Level.ACCOUNT)
    assert (account.customers, account.a, account.b, account.c) == (
        2,
        Decimal("750.00"),
        Decimal("600.00"),
        Decimal("500.00"),
    )
    assert (account.gross_pct, account.net_pct) == (Decimal("66.67"), Decimal("80.00"))

    subscription = result(level=Level.SUBSCRIPTION)
    assert subscription.customers == 2
    assert subscription.c == Decimal("500.00")


def test_subscription_level_splits_an_account(db):
    add_lines(
        [
            ("2023-06", "SPLIT", "SUB-1", "Premium", 1, "100.00", "recurring"),
            ("2023-06", "SPLIT", "SUB-2", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "SPLIT", "SUB-1", "Premium", 1, "200.00", "recurring"),
        ]
    )
    recompute_retention()

    assert result(level=Level.ACCOUNT).gross_pct == Decimal("100.00")
    assert result(level=Level.SUBSCRIPTION).gross_pct == Decimal("50.00")
    assert result(level=Level.SUBSCRIPTION).net_pct == Decimal("100.00")


def test_trueup_counts_in_mrr(db):
    add_lines(
        [
            ("2023-06", "TU", "SUB-TU", "Premium", 10, "100.00", "recurring"),
            ("2023-06", "TU", "SUB-TU", "Premium", 2, "20.00", "trueup"),
            ("2024-06", "TU", "SUB-TU", "Premium", 10, "100.00", "recurring"),
        ]
    )
    recompute_retention()

    assert result().a == Decimal("120.00")
    assert result().gross_pct == Decimal("83.33")


def test_negative_b_lowers_gross(db):
    add_lines(
        [
            ("2023-06", "NEG", "SUB-NEG", "Premium", 10, "100.00", "recurring"),
            ("2024-06", "NEG", "SUB-NEG", "Premium", 0, "-10.00", "recurring"),
        ]
    )
    recompute_retention()

    assert result().c == Decimal("-10.00")
    assert result().gross_pct == Decimal("-10.00")


def test_segments_follow_the_ultimate_parent(db):
    large = make_account("BIG", segment=Segment.LARGE)
    make_account("BIG-SMB-CHILD", parent=large, segment=Segment.SMB)
    add_lines(
        [
            ("2023-06", "BIG-SMB-CHILD", "SUB-K", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "BIG-SMB-CHILD", "SUB-K", "Premium", 1, "100.00", "recurring"),
        ]
    )
    recompute_retention()

    assert result(level=Level.ACCOUNT, segment=SegmentKey.LARGE).customers == 1
    assert result(level=Level.ACCOUNT, segment=SegmentKey.SMB).customers == 0
    assert result(level=Level.ACCOUNT, segment=SegmentKey.SMB).gross_pct is None


def test_recompute_twice_leaves_identical_results(db):
    add_lines(
        [
            ("2023-06", "R1", "SUB-R1", "Premium", 10, "100.00", "recurring"),
            ("2023-06", "R2", "SUB-R2", "Premium", 5, "50.00", "recurring"),
            ("2024-06", "R1", "SUB-R1", "Premium", 12, "120.00", "recurring"),
        ]
    )

    def snapshot():
        results = list(
            RetentionResult.objects.order_by("month", "level", "segment").values_list(
                "month", "level", "segment", "customers", "a", "b", "c", "gross_pct", "net_pct"
            )
        )
        customers = list(
            RetentionCustomer.objects.order_by("month", "level", "account", "subscription").values_list(
                "month", "level", "account", "subscription", "a", "b", "c"
            )
        )
        return results, customers

    recompute_retention()
    first = snapshot()
    recompute_retention()
    recompute_retention([JUNE_2024])

    assert snapshot() == first
    assert result().gross_pct == Decimal("66.67")
    assert result().net_pct == Decimal("80.00")


def test_recompute_of_one_month_fills_new_span_months(db):
    add_lines([("2023-06", "S1", "SUB-S1", "Premium", 1, "100.00", "recurring")])
    recompute_retention()
    add_lines([("2024-06", "S1", "SUB-S1", "Premium", 1, "100.00", "recurring")])

    recompute_retention([JUNE_2024])

    assert RetentionResult.objects.filter(level=Level.PARENT, segment=SegmentKey.ALL).count() == 13
    assert result().gross_pct == Decimal("100.00")


@pytest.mark.django_db(transaction=True)
def test_concurrent_recomputes_leave_one_result_per_key():
    add_lines(
        [
            ("2023-06", "R1", "SUB-R1", "Premium", 10, "100.00", "recurring"),
            ("2023-06", "R2", "SUB-R2", "Premium", 5, "50.00", "recurring"),
            ("2024-06", "R1", "SUB-R1", "Premium", 12, "120.00", "recurring"),
        ]
    )
    errors = []

    def run():
        try:
            recompute_retention([JUNE_2024])
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert RetentionResult.objects.filter(month=JUNE_2024).count() == len(Level) * len(SegmentKey)
    assert RetentionCustomer.objects.filter(month=JUNE_2024, level=Level.PARENT).count() == 2
    figures = result()
    assert (figures.customers, figures.a, figures.b, figures.c) == (
        2,
        Decimal("150.00"),
        Decimal("120.00"),
        Decimal("100.00"),
    )


def test_regular_table_named_like_a_work_table_survives(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE tamarind_work_keys (note varchar(10))")
        cursor.execute("INSERT INTO tamarind_work_keys VALUES ('kept')")
    try:
        add_lines(
            [
                ("2023-06", "X", "SUB-X", "Premium", 5, "50.00", "recurring"),
                ("2024-06", "X", "SUB-X", "Premium", 5, "50.00", "recurring"),
            ]
        )
        recompute_retention()

        with connection.cursor() as cursor:
            cursor.execute("SELECT note FROM tamarind_work_keys")
            assert cursor.fetchall() == [("kept",)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS tamarind_work_keys")
