"""A small book worked by hand, imported through the real imports and read from every retention page and CSV.

Hierarchy: Alpha Holding (Large) over Alpha EU (its own segment SMB), Alpha EU Labs below Alpha EU, and
Alpha US; Beta Corp (Mid-Market); Gamma Ltd (SMB) over Gamma Labs; Delta Inc (SMB); Epsilon (Mid-Market).

2025-03 against 2024-03, by subscription:
    SUB-1   Alpha EU       Premium 10 seats 1,000.00 -> 8 seats 800.00             Downgrade 200.00
    SUB-2   Alpha US       Standard 250.00 -> none                                 Cancellation 250.00
    SUB-3   Alpha EU Labs  Premium 100.00 -> Premium 100.00 and a credit of -50.00  Downgrade 50.00
    SUB-10  Alpha US       Standard 30.00 -> a credit of -10.00 (B below zero)     Downgrade 40.00
    SUB-4   Beta Corp      Standard 20 seats 2,000.00 -> Premium 20 seats 2,600.00  Product Change 600.00
    SUB-5   Gamma Ltd      Basic 10 seats 500.00 and a true-up of 40.00 -> 12 seats 600.00
                                                                                   Seat Expansion 100.00
    SUB-9   Gamma Ltd      Addon 2 seats 80.00 -> Addon 3 seats 120.00 and Extra 1 seat 50.00
                                                                                   Product Change/Seat Change Mix 90.00
    SUB-6   Gamma Labs     Basic 5 seats 250.00 -> 5 seats 300.00                  Discount/Price Change 50.00
    SUB-7   Delta Inc      left after 2024-01 and came back in 2025-02: not in the cohort
    SUB-8   Epsilon        new in 2025: not in the cohort

Every level: A = 4,250.00 (the true-up counts), B = 4,510.00, C = 3,710.00, so gross 3,710 / 4,250 = 87.3%
and net 4,510 / 4,250 = 106.1%. Reasons leave the true-up out: recurring A is 4,210.00, and expansion
840.00 minus churn 540.00 is the recurring change of 300.00.
"""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from common.months import parse_month
from retention.models import RetentionCustomer

ACCOUNTS = (
    "account_id,account_name,parent_account_id,segment,tam_email\n"
    "ACC-P1,Alpha Holding,,Large,tam@example.com\n"
    "ACC-A11,Alpha EU,ACC-P1,SMB,\n"
    "ACC-A111,Alpha EU Labs,ACC-A11,,\n"
    "ACC-A12,Alpha US,ACC-P1,,\n"
    "ACC-P2,Beta Corp,,Mid-Market,tam@example.com\n"
    "ACC-P3,Gamma Ltd,,SMB,\n"
    "ACC-A31,Gamma Labs,ACC-P3,SMB,\n"
    "ACC-P4,Delta Inc,,SMB,\n"
    "ACC-P5,Epsilon,,Mid-Market,\n"
)

MRR = (
    "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"
    "2024-01,ACC-A11,SUB-1,Premium,10,1000.00,recurring\n"
    "2024-01,ACC-A12,SUB-2,Standard,5,250.00,recurring\n"
    "2024-01,ACC-A111,SUB-3,Premium,2,100.00,recurring\n"
    "2024-01,ACC-P2,SUB-4,Standard,20,2000.00,recurring\n"
    "2024-01,ACC-P3,SUB-5,Basic,10,500.00,recurring\n"
    "2024-01,ACC-A31,SUB-6,Basic,5,250.00,recurring\n"
    "2024-01,ACC-P3,SUB-9,Addon,2,80.00,recurring\n"
    "2024-02,ACC-A11,SUB-1,Premium,10,1000.00,recurring\n"
    "2024-02,ACC-A12,SUB-2,Standard,5,250.00,recurring\n"
    "2024-02,ACC-A111,SUB-3,Premium,2,100.00,recurring\n"
    "2024-02,ACC-P2,SUB-4,Standard,20,2000.00,recurring\n"
    "2024-02,ACC-P3,SUB-5,Basic,10,500.00,recurring\n"
    "2024-02,ACC-A31,SUB-6,Basic,5,250.00,recurring\n"
    "2024-02,ACC-P3,SUB-9,Addon,2,80.00,recurring\n"
    "2024-03,ACC-A11,SUB-1,Premium,10,1000.00,recurring\n"
    "2024-03,ACC-A12,SUB-2,Standard,5,250.00,recurring\n"
    "2024-03,ACC-A111,SUB-3,Premium,2,100.00,recurring\n"
    "2024-03,ACC-P2,SUB-4,Standard,20,2000.00,recurring\n"
    "2024-03,ACC-P3,SUB-5,Basic,10,500.00,recurring\n"
    "2024-03,ACC-A31,SUB-6,Basic,5,250.00,recurring\n"
    "2024-03,ACC-P3,SUB-9,Addon,2,80.00,recurring\n"
    "2024-01,ACC-P4,SUB-7,Basic,3,150.00,recurring\n"
    "2024-03,ACC-P3,SUB-5,Basic,2,40.00,trueup\n"
    "2024-03,ACC-A12,SUB-10,Standard,1,30.00,recurring\n"
    "2025-01,ACC-A11,SUB-1,Premium,10,1000.00,recurring\n"
    "2025-02,ACC-A11,SUB-1,Premium,8,800.00,recurring\n"
    "2025-03,ACC-A11,SUB-1,Premium,8,800.00,recurring\n"
    "2025-01,ACC-A12,SUB-2,Standard,5,250.00,recurring\n"
    "2025-01,ACC-A111,SUB-3,Premium,2,100.00,recurring\n"
    "2025-01,ACC-P2,SUB-4,Premium,20,2600.00,recurring\n"
    "2025-01,ACC-P3,SUB-5,Basic,12,600.00,recurring\n"
    "2025-01,ACC-A31,SUB-6,Basic,5,300.00,recurring\n"
    "2025-01,ACC-P3,SUB-9,Addon,3,120.00,recurring\n"
    "2025-01,ACC-P3,SUB-9,Extra,1,50.00,recurring\n"
    "2025-01,ACC-P5,SUB-8,Premium,4,400.00,recurring\n"
    "2025-02,ACC-A111,SUB-3,Premium,2,100.00,recurring\n"
    "2025-02,ACC-P2,SUB-4,Premium,20,2600.00,recurring\n"
    "2025-02,ACC-P3,SUB-5,Basic,12,600.00,recurring\n"
    "2025-02,ACC-A31,SUB-6,Basic,5,300.00,recurring\n"
    "2025-02,ACC-P3,SUB-9,Addon,3,120.00,recurring\n"
    "2025-02,ACC-P3,SUB-9,Extra,1,50.00,recurring\n"
    "2025-02,ACC-P5,SUB-8,Premium,4,400.00,recurring\n"
    "2025-03,ACC-A111,SUB-3,Premium,2,100.00,recurring\n"
    "2025-03,ACC-P2,SUB-4,Premium,20,2600.00,recurring\n"
    "2025-03,ACC-P3,SUB-5,Basic,12,600.00,recurring\n"
    "2025-03,ACC-A31,SUB-6,Basic,5,300.00,recurring\n"
    "2025-03,ACC-P3,SUB-9,Addon,3,120.00,recurring\n"
    "2025-03,ACC-P3,SUB-9,Extra,1,50.00,recurring\n"
    "2025-03,ACC-P5,SUB-8,Premium,4,400.00,recurring\n"
    "2025-03,ACC-A111,SUB-3,Loyalty Credit,0,-50.00,recurring\n"
    "2025-02,ACC-P2,SUB-4,Standard,5,125.00,trueup\n"
    "2025-02,ACC-P4,SUB-7,Basic,3,150.00,recurring\n"
    "2025-03,ACC-P4,SUB-7,Basic,3,150.00,recurring\n"
    "2025-03,ACC-A12,SUB-10,Standard,0,-10.00,recurring\n"
)

# Level: (customers, a, b, c, gross, net, {reason: (customers, amount)}), for 2025-03.
MARCH_2025 = {
    "parent": (
        3,
        "4250.00",
        "4510.00",
        "3710.00",
        "87.3%",
        "106.1%",
        {"Downgrade": (1, "540.00"), "Product Change": (1, "600.00"), "Product Change/Seat Change Mix": (1, "240.00")},
    ),
    "account": (
        6,
        "4250.00",
        "4510.00",
        "3710.00",
        "87.3%",
        "106.1%",
        {
            "Downgrade": (3, "540.00"),
            "Discount/Price Change": (1, "50.00"),
            "Product Change": (1, "600.00"),
            "Product Change/Seat Change Mix": (1, "190.00"),
        },
    ),
    "subscription": (
        8,
        "4250.00",
        "4510.00",
        "3710.00",
        "87.3%",
        "106.1%",
        {
            "Cancellation": (1, "250.00"),
            "Downgrade": (3, "290.00"),
            "Seat Expansion": (1, "100.00"),
            "Discount/Price Change": (1, "50.00"),
            "Product Change": (1, "600.00"),
            "Product Change/Seat Change Mix": (1, "90.00"),
        },
    ),
}

# Parent level in the months before: (month, customers, a, b, c, gross, net, {reason: (customers, amount)}).
PARENT_MONTHS = [
    # Delta Inc had 150.00 in 2024-01 and nothing in 2025-01, so it counts as cancelled here.
    (
        "2025-01",
        4,
        "4330.00",
        "5020.00",
        "4180.00",
        "96.5%",
        "115.9%",
        {
            "Cancellation": (1, "150.00"),
            "Product Change": (1, "600.00"),
            "Product Change/Seat Change Mix": (1, "240.00"),
        },
    ),
    # Beta Corp's true-up of 125.00 counts in B (2,725.00) but not in its Product Change of 600.00.
    (
        "2025-02",
        3,
        "4180.00",
        "4695.00",
        "3730.00",
        "89.2%",
        "112.3%",
        {"Downgrade": (1, "450.00"), "Product Change": (1, "600.00"), "Product Change/Seat Change Mix": (1, "240.00")},
    ),
]

REASON_SLUGS = {
    "Cancellation": "cancellation",
    "Downgrade": "downgrade",
    "Seat Expansion": "seat_expansion",
    "Discount/Price Change": "price_change",
    "Product Change": "product_change",
    "Product Change/Seat Change Mix": "product_seat_mix",
}


@pytest.fixture
def book(db, tmp_path, tam, django_capture_on_commit_callbacks):
    """The book above, imported with import_accounts and import_mrr; Alpha Holding and Beta Corp belong to `tam`."""
    tam.email = "tam@example.com"
    tam.save(update_fields=["email"])
    for command, text in (("import_accounts", "".join(ACCOUNTS)), ("import_mrr", "".join(MRR))):
        path = tmp_path / f"{command}.csv"
        path.write_text(text)
        with django_capture_on_commit_callbacks(execute=True):
            call_command(command, str(path), stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def money(text: str) -> str:
    return f"{Decimal(text):,.2f}"


def overview_row(response, month: str) -> list[str]:
    """Return the cells of one month's row of the overview table, as the page shows them."""
    html = response.content.decode()
    start = html.index(f'<tr data-month="{month}">')
    row = html[start : html.index("</tr>", start)]
    cells = []
    for cell in row.split("<td")[1:]:
        text = cell[cell.index(">") + 1 : cell.index("</td>")]
        cells.append(text.replace("</a>", "").split(">")[-1].strip())
    return cells


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def total(rows: list[dict], column: str) -> Decimal:
    return sum((Decimal(row[column]) for row in rows), Decimal("0.00"))


EXPECTED_MONTHS = [
    *(pytest.param("2025-03", level, *figures, id=f"2025-03-{level}") for level, figures in MARCH_2025.items()),
    *(pytest.param(month, "parent", *figures, id=f"{month}-parent") for month, *figures in PARENT_MONTHS),
]


@pytest.mark.parametrize("month, level, customers, a, b, c, gross, net, reasons", EXPECTED_MONTHS)
def test_worked_book_overview(manager_client, book, month, level, customers, a, b, c, gross, net, reasons):
    response = manager_client.get(reverse("retention:overview"), {"level": level})

    assert overview_row(response, month) == [month, str(customers), money(a), money(b), money(c), gross, net]


@pytest.mark.parametrize("month, level, customers, a, b, c, gross, net, reasons", EXPECTED_MONTHS)
def test_worked_book_month_and_csv(manager_client, book, month, level, customers, a, b, c, gross, net, reasons):
    page = manager_client.get(reverse("retention:month", args=[month]), {"level": level})
    rows = csv_rows(manager_client.get(reverse("retention:month_csv", args=[month]), {"level": level}))

    figures = page.context["figures"]
    assert (figures.customers, figures.a, figures.b, figures.c) == (customers, Decimal(a), Decimal(b), Decimal(c))
    assert (f"{figures.gross_pct}%", f"{figures.net_pct}%") == (gross, net)
    assert len(rows) == customers
    assert (total(rows, "a"), total(rows, "b"), total(rows, "c")) == (Decimal(a), Decimal(b), Decimal(c))
    assert {row["month"] for row in rows} == {month}


@pytest.mark.parametrize("month, level, customers, a, b, c, gross, net, reasons", EXPECTED_MONTHS)
def test_worked_book_reasons(manager_client, book, month, level, customers, a, b, c, gross, net, reasons):
    page = manager_client.get(reverse("retention:reasons"), {"month": month, "level": level})
    rows = csv_rows(manager_client.get(reverse("retention:reasons_csv", args=[month]), {"level": level}))

    breakdown = page.context["breakdown"]
    on_page = {
        figure.reason.label: (figure.customers, figure.amount) for figure in breakdown.churn + breakdown.expansion
    }
    assert on_page == {reason: (count, Decimal(amount)) for reason, (count, amount) in reasons.items()}
    assert breakdown.reasons_net == breakdown.recurring_change
    assert {row["reason"]: (int(row["customers"]), row["mrr"]) for row in rows} == reasons
    for reason, (count, amount) in reasons.items():
        url = reverse("retention:reason_customers_csv", args=[month, REASON_SLUGS[reason]])
        customer_rows = csv_rows(manager_client.get(url, {"level": level}))
        assert len(customer_rows) == count, reason
        assert total(customer_rows, "amount") == Decimal(amount), reason


def test_worked_book_true_up_left_out_of_reasons(manager_client, book):
    breakdown = manager_client.get(reverse("retention:reasons"), {"month": "2025-03"}).context["breakdown"]

    assert (breakdown.recurring_a, breakdown.recurring_b) == (Decimal("4210.00"), Decimal("4510.00"))
    assert (breakdown.churn_total, breakdown.expansion_total) == (Decimal("540.00"), Decimal("840.00"))


def test_worked_book_reason_products_and_seats(manager_client, book):
    url = reverse("retention:reason_customers_csv", args=["2025-03", "product_seat_mix"])

    (row,) = csv_rows(manager_client.get(url, {"level": "parent"}))

    assert (row["customer_id"], row["recurring_a"], row["recurring_b"]) == ("ACC-P3", "830.00", "1070.00")
    assert (row["products_a"], row["products_b"]) == ("Addon, Basic", "Addon, Basic, Extra")
    assert (row["seats_a"], row["seats_b"], row["amount"]) == ("17", "21", "240.00")


def test_worked_book_negative_b_is_a_downgrade(manager_client, book):
    url = reverse("retention:reason_customers_csv", args=["2025-03", "downgrade"])

    rows = {row["customer_id"]: row for row in csv_rows(manager_client.get(url, {"level": "subscription"}))}

    assert (rows["SUB-10"]["recurring_a"], rows["SUB-10"]["recurring_b"]) == ("30.00", "-10.00")
    assert rows["SUB-10"]["amount"] == "40.00"
    assert rows["SUB-10"]["segment"] == "Large"


@pytest.mark.parametrize("level", ["parent", "account", "subscription"])
def test_worked_book_lines_add_up_to_each_customer(manager_client, book, level):
    customers = RetentionCustomer.objects.of_month(parse_month("2025-03"), level)

    assert customers.count() == MARCH_2025[level][0]
    for customer in customers:
        lines = csv_rows(manager_client.get(reverse("retention:customer_lines_csv", args=[customer.pk])))
        baseline = [line for line in lines if line["month"] == "2024-03"]
        current = [line for line in lines if line["month"] == "2025-03"]
        assert (total(baseline, "mrr"), total(current, "mrr")) == (customer.a, customer.b), customer.pk


def test_worked_book_owning_tam_sees_own_parents(client, book, tam):
    client.force_login(tam)

    response = client.get(reverse("retention:overview"))

    # Alpha Holding 1,380.00 -> 840.00 and Beta Corp 2,000.00 -> 2,600.00.
    assert overview_row(response, "2025-03") == ["2025-03", "2", "3,380.00", "3,440.00", "2,840.00", "84.0%", "101.8%"]
