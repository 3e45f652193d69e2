"""A deterministic synthetic customer base, written in the import formats, for demos and benchmarks.

Every parent account has zero to three child accounts; every account has one
or two subscriptions. Each subscription starts in a random month and then, each
month, may gain or lose seats, change price or product, bill a true-up,
cancel, or come back after a cancellation. The same seed gives the same files.
"""

import csv
import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.months import add_months, format_month

# Price per seat and month, in cents.
PRODUCT_PRICES = {"Basic": 1900, "Pro": 4900, "Enterprise": 19900}
SEGMENT_WEIGHTS = {"Large": 1, "Mid-Market": 3, "SMB": 6}

# Chances per subscription and month.
CANCEL = 0.03
REACTIVATE = 0.06
SEAT_CHANGE = 0.06
PRICE_CHANGE = 0.02
PRODUCT_CHANGE = 0.02
TRUEUP = 0.03


@dataclass
class Subscription:
    external_id: str
    account_id: str
    product: str
    seats: int
    price: int  # cents per seat
    active: bool


def _accounts(rng: random.Random, parents: int) -> Iterator[tuple[str, str, str, str]]:
    """Yield (account id, name, parent id, segment) for every parent followed by its children."""
    segments = list(SEGMENT_WEIGHTS)
    weights = list(SEGMENT_WEIGHTS.values())
    for number in range(parents):
        parent_id = f"P{number:06d}"
        segment = rng.choices(segments, weights)[0]
        yield parent_id, f"Parent {number}", "", segment
        for child in range(rng.choice([0, 1, 1, 2, 3])):
            yield f"{parent_id}-{child + 1}", f"Parent {number} unit {child + 1}", parent_id, segment


def _month_lines(rng: random.Random, subscription: Subscription, month: str) -> Iterator[list]:
    """Move a subscription on by one month and yield its lines for that month."""
    if not subscription.active:
        if rng.random() < REACTIVATE:
            subscription.active = True
        else:
            return
    elif rng.random() < CANCEL:
        subscription.active = False
        return
    roll = rng.random()
    if roll < SEAT_CHANGE:
        subscription.seats = max(1, subscription.seats + rng.choice([-3, -1, 1, 2, 5]))
    elif roll < SEAT_CHANGE + PRICE_CHANGE:
        subscription.price = max(100, subscription.price + rng.choice([-300, 200, 500]))
    elif roll < SEAT_CHANGE + PRICE_CHANGE + PRODUCT_CHANGE:
        subscription.product = rng.choice([name for name in PRODUCT_PRICES if name != subscription.product])
        subscription.price = PRODUCT_PRICES[subscription.product]
    mrr = subscription.seats * subscription.price
    yield [
        month,
        subscription.account_id,
        subscription.external_id,
        subscription.product,
        subscription.seats,
        f"{mrr / 100:.2f}",
        "recurring",
    ]
    if rng.random() < TRUEUP:
        extra = rng.randint(1, 5)
        # A true-up row carries one twelfth of the charge.
        yield [
            month,
            subscription.account_id,
            subscription.external_id,
            subscription.product,
            extra,
            f"{extra * subscription.price // 12 / 100:.2f}",
            "trueup",
        ]


def generate(directory: Path, parents: int, months: int, seed: int, last_month: datetime.date) -> dict:
    """Write accounts.csv and mrr.csv to `directory`, with `months` months ending with `last_month`.

    Returns the number of accounts, subscriptions and lines written.
    """
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    first_month = add_months(last_month, -(months - 1))
    month_names = [format_month(add_months(first_month, offset)) for offset in range(months)]
    counts = {"accounts": 0, "subscriptions": 0, "lines": 0}

    with (
        open(directory / "accounts.csv", "w", newline="", encoding="utf-8") as accounts_file,
        open(directory / "mrr.csv", "w", newline="", encoding="utf-8") as mrr_file,
    ):
        accounts = csv.writer(accounts_file, lineterminator="\n")
        lines = csv.writer(mrr_file, lineterminator="\n")
        accounts.writerow(["account_id", "account_name", "parent_account_id", "segment", "tam_email"])
        lines.writerow(["month", "account_id", "subscription_id", "product", "quantity", "mrr", "charge_type"])
        for account_id, name, parent_id, segment in _accounts(rng, parents):
            accounts.writerow([account_id, name, parent_id, segment, ""])
            counts["accounts"] += 1
            for number in range(rng.choice([1, 1, 2])):
                product = rng.choices(list(PRODUCT_PRICES), [6, 3, 1])[0]
                subscription = Subscription(
                    external_id=f"S-{account_id}-{number + 1}",
                    account_id=account_id,
                    product=product,
                    seats=rng.randint(1, 60),
                    price=PRODUCT_PRICES[product],
                    active=True,
                )
                counts["subscriptions"] += 1
                # Starts spread over the period and the year before it.
                start = rng.randint(-12, months - 1)
                for index in range(max(start, 0), months):
                    for line in _month_lines(rng, subscription, month_names[index]):
                        lines.writerow(line)
                        counts["lines"] += 1
    return counts
