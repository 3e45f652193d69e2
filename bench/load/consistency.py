"""Check, through the site's pages and CSV export, that a month's figures always come from one recomputation.

A read fetches, as one user, the month page over all segments, the month's
customer CSV, the month page of each segment, the reasons page of the month and
the month page over all segments again. A recomputation that commits during a
read can change the figures between two requests, so the CSV must add up to the
totals of the month page before or after it. When both month pages show the same
totals, the segments must add up to them as well. The reasons page must
reconcile within its own response: expansion minus churn equals the change of
recurring MRR.

NOTE: the checks assume at most one commit per read. Two commits that restore the first figures
(A to B and back to A) within one read look like a half-recomputed month.
"""

import csv
import io
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from .browser import Browser

SEGMENTS = ("Large", "Mid-Market", "SMB")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Totals:
    """Customer count and the sums of A, B and C of a month, in US dollars."""

    customers: int = 0
    a: Decimal = ZERO
    b: Decimal = ZERO
    c: Decimal = ZERO

    def __add__(self, other: "Totals") -> "Totals":
        return Totals(self.customers + other.customers, self.a + other.a, self.b + other.b, self.c + other.c)


def _amount(text: str) -> Decimal:
    """Parse an amount as the pages show it, with grouped thousands: 1,250.00."""
    return Decimal(text.replace(",", ""))


def month_page_totals(html: str) -> Totals | None:
    """Return the totals that a month page shows, or None when the page has none."""
    values = {}
    for name in ("customers", "a", "b", "c"):
        match = re.search(rf'id="total-{name}">([^<]*)<', html)
        if match is None:
            return None
        values[name] = match.group(1).strip()
    return Totals(int(values["customers"]), _amount(values["a"]), _amount(values["b"]), _amount(values["c"]))


def csv_totals(text: str) -> tuple[Totals, dict[str, Totals]]:
    """Add up the rows of a month's customer CSV, over all rows and per segment."""
    overall = Totals()
    by_segment: dict[str, Totals] = defaultdict(Totals)
    for row in csv.DictReader(io.StringIO(text)):
        one = Totals(1, Decimal(row["a"]), Decimal(row["b"]), Decimal(row["c"]))
        overall += one
        by_segment[row["segment"]] += one
    return overall, dict(by_segment)


def reasons_reconcile(html: str) -> bool | None:
    """Return whether the reasons page shows expansion minus churn equal to the recurring change.

    Returns None when the page shows no figures.
    """
    net = re.search(r'id="reasons-net">([^<]*)<', html)
    change = re.search(r'id="recurring-change">([^<]*)<', html)
    if net is None or change is None:
        return None
    return _amount(net.group(1).strip()) == _amount(change.group(1).strip())


@dataclass
class MonthRead:
    """The figures of one read of a month, with every inconsistency and failed request in `problems`."""

    month: str
    before: Totals | None = None
    after: Totals | None = None
    csv_overall: Totals | None = None
    csv_segments: dict[str, Totals] = field(default_factory=dict)
    segment_pages: dict[str, Totals | None] = field(default_factory=dict)
    reasons_reconciled: bool | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def straddled(self) -> bool:
        """Whether the month's totals changed during the read, because a recomputation committed."""
        return self.before != self.after


def read_month(browser: Browser, month: str, level: str = "parent") -> MonthRead:
    """Read one month's figures through the pages and the CSV export, then check them."""
    read = MonthRead(month)
    query = f"?level={level}&segment=all"

    def fetch(path: str) -> str | None:
        page = browser.get(path)
        if page.status != 200:
            read.problems.append(f"GET {path} returned {page.status}")
            return None
        return page.text

    html = fetch(f"/retention/{month}/{query}")
    read.before = month_page_totals(html) if html else None
    text = fetch(f"/retention/{month}/customers.csv{query}")
    if text is not None:
        read.csv_overall, read.csv_segments = csv_totals(text)
    for segment in SEGMENTS:
        html = fetch(f"/retention/{month}/?level={level}&segment={segment}")
        read.segment_pages[segment] = month_page_totals(html) if html else None
    html = fetch(f"/retention/reasons/?month={month}&level={level}&segment=all")
    read.reasons_reconciled = reasons_reconcile(html) if html else None
    html = fetch(f"/retention/{month}/{query}")
    read.after = month_page_totals(html) if html else None

    read.problems.extend(check(read))
    return read


def check(read: MonthRead) -> list[str]:
    """Return the inconsistencies of a read; an empty list means the read saw one recomputation's figures."""
    problems = []
    if read.before is None or read.after is None or read.csv_overall is None:
        return ["the month page or the CSV had no figures"]
    if read.csv_overall not in (read.before, read.after):
        problems.append(f"CSV rows add up to {read.csv_overall}, the month page showed {read.before} and {read.after}")
    if read.reasons_reconciled is not True:
        problems.append("the reasons page does not reconcile expansion minus churn with the recurring change")
    if read.straddled:
        # The segment pages may come from either recomputation, so only the checks above apply.
        return problems
    pages_sum = read.csv_segments.get("none", Totals())
    for segment in SEGMENTS:
        page = read.segment_pages.get(segment)
        if page is None:
            problems.append(f"the month page of segment {segment} had no figures")
            continue
        pages_sum += page
        if page != read.csv_segments.get(segment, Totals()):
            problems.append(f"segment {segment}: the page shows {page}, its CSV rows add up to {read.csv_segments}")
    if pages_sum != read.before:
        problems.append(f"the segments add up to {pages_sum}, the month over all segments is {read.before}")
    return problems


@dataclass
class CheckerReport:
    reads: int = 0
    straddled: int = 0
    inconsistent: int = 0
    examples: list[str] = field(default_factory=list)


class Checker(threading.Thread):
    """Read one month again and again until stopped, and count the reads and the inconsistent ones."""

    def __init__(self, browser: Browser, month: str, level: str = "parent"):
        super().__init__(name="consistency-checker", daemon=True)
        self.browser = browser
        self.month = month
        self.level = level
        self.report = CheckerReport()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                read = read_month(self.browser, self.month, self.level)
                problems = read.problems
            except OSError as error:
                read, problems = None, [f"request failed: {error}"]
            self.report.reads += 1
            if read is not None and read.straddled:
                self.report.straddled += 1
            if problems:
                self.report.inconsistent += 1
                if len(self.report.examples) < 10:
                    self.report.examples.extend(problems[:2])

    def stop(self) -> CheckerReport:
        self.stopping.set()
        self.join(timeout=60)
        return self.report
