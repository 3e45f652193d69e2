"""import_journeys: all rows or none, every bad value named with its line, column, value and reason."""

import datetime

import pytest
from django.core.management import CommandError, call_command

from journeys import importing
from journeys.importing import import_journeys
from journeys.models import FirstValueBasis, InfrastructureType, Journey, JourneyKind, Milestone, TaskStatus
from journeys.services import mark_overdue, start_journey, update_task
from tests.factories import AccountFactory, UserFactory

from .factories import PlaybookTaskFactory, ProductFactory
from .plan_factories import ObjectiveFactory

D = datetime.date
HEADER = (
    "account_id,transaction_date,kind,licenses,kickoff,onboarding,infrastructure_ready,"
    "infrastructure_type,first_value,first_value_basis,outcome_achieved"
)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


@pytest.fixture
def accounts():
    tam = UserFactory(username="ana")
    AccountFactory(external_id="00123", tam=tam)
    AccountFactory(external_id="ACC-2")


def _write(tmp_path, text, *, bom=False, newline="\n"):
    path = tmp_path / "journeys.csv"
    data = text.strip("\n").replace("\n", newline) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode())
    return path


def _errors(path):
    with pytest.raises(Exception) as raised:
        import_journeys(path)
    return [(error.line, error.column, error.value, error.reason) for error in raised.value.errors]


def test_import_creates_journeys(tmp_path, accounts):
    path = _write(
        tmp_path,
        f"""{HEADER},first_value_users
00123,2024-01-02,new,250,2024-01-10,2024-02-01,2024-02-20,saas,2024-03-15,licenses_10pct,,25
ACC-2,2024-03-01,,20,,,,,,,,
ACC-2,2024-03-01,expansion,5,2024-03-05,,,,,,,""",
    )

    summary = import_journeys(path)

    assert summary["journeys_created"] == 3
    first = Journey.objects.get(account__external_id="00123")
    assert first.kind == JourneyKind.NEW
    assert first.licenses == 250
    assert first.tam.username == "ana"
    assert first.kickoff_date == D(2024, 1, 10)
    assert first.infrastructure_type == InfrastructureType.SAAS
    assert first.first_value_basis == FirstValueBasis.LICENSES_10PCT
    assert first.first_value_users == 25
    assert first.outcome_achieved_date is None
    assert Journey.objects.filter(account__external_id="ACC-2", kind=JourneyKind.NEW, kickoff_date=None).exists()
    assert Journey.objects.filter(account__external_id="ACC-2", kind=JourneyKind.EXPANSION).exists()


def test_import_again_updates(tmp_path, accounts):
    import_journeys(_write(tmp_path, f"{HEADER}\n00123,2024-01-02,new,250,,,,,,,"))

    summary = import_journeys(_write(tmp_path, f"{HEADER}\n00123,2024-01-02,new,300,2024-01-09,,,,,,"))

    assert (summary["journeys_created"], summary["journeys_updated"]) == (0, 1)
    journey = Journey.objects.get()
    assert (journey.licenses, journey.kickoff_date) == (300, D(2024, 1, 9))
    assert journey.history.count() == 2


def test_import_reads_bom_and_crlf(tmp_path, accounts):
    path = _write(tmp_path, f"{HEADER}\n00123,2024-01-02,new,250,2024-01-10,,,,,,", bom=True, newline="\r\n")

    import_journeys(path)

    assert Journey.objects.get().kickoff_date == D(2024, 1, 10)


def test_import_rejects_spreadsheet_and_local_dates(tmp_path, accounts):
    path = _write(
        tmp_path,
        f"""{HEADER}
00123,45322,new,250,,,,,,,
00123,01/02/2024,new,250,,,,,,,
00123,2024-01-31T23:30:00-05:00,new,250,,,,,,,""",
    )

    errors = _errors(path)

    assert errors == [
        (2, "transaction_date", "45322", "expected YYYY-MM-DD"),
        (3, "transaction_date", "01/02/2024", "expected YYYY-MM-DD"),
        (4, "transaction_date", "2024-01-31T23:30:00-05:00", "expected YYYY-MM-DD"),
    ]
    assert not Journey.objects.exists()


def test_import_rejects_every_bad_row(tmp_path, accounts):
    path = _write(
        tmp_path,
        f"""{HEADER}
00123,2024-01-02,new,250,2024-01-01,,,,,,
00123,2024-02-02,new,250,2024-07-01,,,,,,
456,2024-01-02,new,250,,,,,,,
ACC-2,2024-01-02,upsell,0,,,2024-02-01,,2024-02-01,team,
ACC-2,2024-01-05,new,10,,,,cloud,,region,
00123,2024-01-02,new,250,,,,,,,""",
    )

    errors = _errors(path)

    assert errors == [
        (2, "kickoff", "2024-01-01", "The date 2024-01-01 is before the transaction date 2024-01-02."),
        (3, "kickoff", "2024-07-01", "The date 2024-07-01 is in the future; today is 2024-06-30."),
        (4, "account_id", "456", "unknown account"),
        (
            5,
            "infrastructure_type",
            "",
            "missing value: infrastructure_ready is set, so give on_premises, saas or hybrid",
        ),
        (5, "kind", "upsell", "unknown kind; expected new or expansion, or empty for new"),
        (5, "licenses", "0", "expected at least 1 licenses"),
        (6, "first_value_basis", "region", "first_value is empty; leave this empty too"),
        (6, "infrastructure_type", "cloud", "infrastructure_ready is empty; leave this empty too"),
        (6, "infrastructure_type", "cloud", "unknown value; expected one of on_premises, saas, hybrid"),
        (7, "account_id", "00123", "duplicate journey: same account, transaction_date and kind as line 2"),
    ]
    assert not Journey.objects.exists()


@pytest.mark.parametrize(
    ("users_column", "reason"),
    [
        (",first_value_users", "missing value: the licenses_10pct basis needs the users in production"),
        ("", "missing column: add first_value_users, because the licenses_10pct basis needs the users in production"),
    ],
    ids=["empty-cell", "no-column"],
)
def test_import_needs_users_for_ten_percent(tmp_path, accounts, users_column, reason):
    cell = "," if users_column else ""
    path = _write(tmp_path, f"{HEADER}{users_column}\n00123,2024-01-02,new,250,,,,,2024-03-01,licenses_10pct,{cell}")

    errors = _errors(path)

    assert errors == [(2, "first_value_users", "", reason)]
    assert not Journey.objects.exists()


def test_import_checks_ten_percent_users(tmp_path, accounts):
    path = _write(
        tmp_path,
        f"""{HEADER},first_value_users
00123,2024-01-02,new,250,,,,,2024-03-01,licenses_10pct,,24""",
    )

    errors = _errors(path)

    assert errors == [
        (
            2,
            "first_value_users",
            "24",
            "10% not met: 24 users in production against 250 licenses; at least 10% are needed.",
        )
    ]


def test_import_keeps_onboarding_of_task_driven_journey(tmp_path, accounts):
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product)
    journey = start_journey(
        account=AccountFactory(external_id="ACC-T"), transaction_date=D(2024, 1, 2), licenses=10, products=[product]
    )
    update_task(journey.tasks.get(), status=TaskStatus.DONE, closed_on=D(2024, 2, 1))

    errors = _errors(_write(tmp_path, f"{HEADER}\nACC-T,2024-01-02,new,10,,2024-03-01,,,,,"))
    import_journeys(_write(tmp_path, f"{HEADER}\nACC-T,2024-01-02,new,10,2024-01-05,2024-02-01,,,,,"))

    assert errors == [
        (
            2,
            "onboarding",
            "2024-03-01",
            "the journey has onboarding tasks, which set this date; leave the cell empty or write 2024-02-01",
        )
    ]
    journey.refresh_from_db()
    assert (journey.kickoff_date, journey.onboarding_date) == (D(2024, 1, 5), D(2024, 2, 1))


def test_import_command_prints_errors(tmp_path, accounts):
    path = _write(tmp_path, f"{HEADER}\n00123,2024-13-01,new,250,,,,,,,")

    with pytest.raises(CommandError) as raised:
        call_command("import_journeys", str(path))

    assert "nothing was stored" in str(raised.value)
    assert "line 2, column transaction_date, value '2024-13-01': expected YYYY-MM-DD: no such calendar date" in str(
        raised.value
    )


def test_import_command_reports_missing_column(tmp_path, accounts):
    path = _write(tmp_path, "account_id,transaction_date\n00123,2024-01-02")

    with pytest.raises(CommandError, match="missing column licenses"):
        call_command("import_journeys", str(path))


def test_import_removes_mark_of_recorded_milestone(tmp_path, accounts):
    import_journeys(_write(tmp_path, f"{HEADER}\n00123,2024-01-02,new,250,,,,,,,"))
    mark_overdue(D(2024, 6, 30))
    journey = Journey.objects.get()
    assert set(journey.overdue_marks.values_list("milestone", flat=True)) == set(Milestone.values)

    import_journeys(_write(tmp_path, f"{HEADER}\n00123,2024-01-02,new,250,2024-01-10,,,,,,"))

    marks = set(journey.overdue_marks.values_list("milestone", flat=True))
    assert marks == set(Milestone.values) - {Milestone.KICKOFF}


def test_import_keeps_outcome_set_by_objectives(tmp_path, accounts):
    account = AccountFactory(external_id="ACC-O")
    ObjectiveFactory(plan__account=account)
    journey = start_journey(account=account, transaction_date=D(2024, 1, 2), licenses=10)
    assert journey.intent_objectives.filter(original_intent=True).exists()

    errors = _errors(_write(tmp_path, f"{HEADER}\nACC-O,2024-01-02,new,10,,,,,,,2024-03-01"))
    import_journeys(_write(tmp_path, f"{HEADER}\nACC-O,2024-01-02,new,10,2024-01-05,,,,,,"))

    assert errors == [
        (
            2,
            "outcome_achieved",
            "2024-03-01",
            "the journey's original-intent objectives set this date; leave the cell empty",
        )
    ]
    journey.refresh_from_db()
    assert (journey.kickoff_date, journey.outcome_achieved_date) == (D(2024, 1, 5), None)


def test_import_marks_journey_past_target(tmp_path, accounts):
    # The clock is frozen at 2024-06-30, so every target of a journey from 2024-01-02 has passed.
    # Kickoff is reached, so it gets no mark.
    import_journeys(_write(tmp_path, f"{HEADER}\n00123,2024-01-02,new,250,2024-01-10,,,,,,"))

    marks = set(Journey.objects.get().overdue_marks.values_list("milestone", flat=True))
    assert marks == set(Milestone.values) - {Milestone.KICKOFF}


def test_import_reads_ids_in_batches(tmp_path, monkeypatch):
    tam = UserFactory(username="ana")
    for index in range(5):
        AccountFactory(external_id=f"ACC-{index}", tam=tam)
    calls = []

    def record(today, journey_ids=None):
        calls.append(list(journey_ids))
        return mark_overdue(today, journey_ids=journey_ids)

    monkeypatch.setattr(importing, "VALUES_PER_QUERY", 2)
    monkeypatch.setattr(importing, "mark_overdue", record)
    rows = "\n".join(f"ACC-{index},2024-01-02,new,10,,,,,,," for index in range(5))

    import_journeys(_write(tmp_path, f"{HEADER}\n{rows}"))

    assert [len(ids) for ids in calls] == [2, 2, 1]
    marked = sorted(journey_id for ids in calls for journey_id in ids)
    assert marked == sorted(Journey.objects.values_list("pk", flat=True))
    for journey in Journey.objects.all():
        assert set(journey.overdue_marks.values_list("milestone", flat=True)) == set(Milestone.values)


class ClosedStream:
    """An output stream whose reader has gone, as when the command's output goes through `head`."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_closed_output_leaves_import_done(tmp_path, accounts):
    # 5,000 rows make one progress line, and the summary follows.
    rows = "\n".join(f"ACC-2,{D(2000, 1, 1) + datetime.timedelta(days=index)},new,10,,,,,,," for index in range(5000))
    path = _write(tmp_path, f"{HEADER}\n{rows}")

    call_command("import_journeys", str(path), stdout=ClosedStream(), stderr=ClosedStream())

    assert Journey.objects.count() == 5000
