"""Managers and CS admins move accounts, with their open journeys, to another TAM."""

import contextlib
import datetime

import pytest
from django.contrib.messages import get_messages

from accounts import selectors, services
from accounts.models import Account, Segment, User
from accounts.roles import Role
from audit.models import AuditAction, AuditEvent
from journeys.models import Journey
from journeys.services import start_journey
from retention.models import PendingRecompute
from tests.conftest import expect_status
from tests.factories import AccountFactory, UserFactory
from tests.journeys.factories import FinishedJourneyFactory

D = datetime.date
URL = "/accounts/reassign/"
USERS = ["tam", "other_tam", "manager", "cs_admin", "anonymous"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(tam):
    """Two accounts of the owning TAM: Globex with an open and a finished journey, Initech with none."""
    globex = AccountFactory(external_id="ACC-G", name="Globex", tam=tam, segment=Segment.SMB)
    initech = AccountFactory(external_id="ACC-I", name="Initech", tam=tam, segment=Segment.LARGE)
    open_journey = start_journey(account=globex, transaction_date=D(2024, 6, 1), licenses=10)
    finished = FinishedJourneyFactory(account=globex)
    return {"globex": globex, "initech": initech, "open": open_journey, "finished": finished}


def _owners():
    return sorted(Account.objects.values_list("external_id", "tam__username"))


def _text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(("user", "expected"), list(zip(USERS, (403, 403, 200, 200, "login"), strict=True)))
def test_page_status_by_role(login, tam, book, user, expected):
    response = login(user).get(URL, {"from_tam": tam.pk})

    expect_status(response, expected)
    if expected == 200:
        assert "Globex" in _text(response)
        assert "Initech" in _text(response)


@pytest.mark.parametrize(("user", "expected"), list(zip(USERS, (403, 403, 302, 302, "login"), strict=True)))
def test_move_status_by_role(login, tam, other_tam, book, user, expected):
    before = _owners()

    response = login(user).post(URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk], "to_tam": other_tam.pk})

    expect_status(response, expected)
    if expected == 302:
        assert Account.objects.get(external_id="ACC-G").tam == other_tam
    else:
        assert _owners() == before
        assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_REASSIGNED).exists()


def test_move_takes_open_journeys_and_leaves_finished_ones(login, tam, other_tam, book, manager):
    response = login("manager").post(
        URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk, book["initech"].pk], "to_tam": other_tam.pk}
    )

    assert response.status_code == 302
    assert response.url == f"{URL}?from_tam={tam.pk}"
    assert _owners() == [("ACC-G", "tam_other"), ("ACC-I", "tam_other")]
    assert Journey.objects.get(pk=book["open"].pk).tam == other_tam
    assert Journey.objects.get(pk=book["finished"].pk).tam == tam
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Moved 2 accounts to tam_other, with 1 open journey. Retention figures are being recomputed."
    ]
    history = Journey.objects.get(pk=book["open"].pk).history.first()
    assert history.history_user == manager


def test_move_keeps_the_search(login, tam, other_tam, book):
    response = login("manager").post(
        URL, {"from_tam": tam.pk, "q": "Glob ex", "accounts": [book["globex"].pk], "to_tam": other_tam.pk}
    )

    assert response.status_code == 302
    assert response.url == f"{URL}?from_tam={tam.pk}&q=Glob+ex"


def test_move_message_counts_all_open_journeys(login, tam, other_tam, book):
    run_by_new_tam = start_journey(account=book["globex"], transaction_date=D(2024, 9, 1), licenses=5)
    Journey.objects.filter(pk=run_by_new_tam.pk).update(tam=other_tam)

    response = login("manager").post(URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk], "to_tam": other_tam.pk})

    # The page listed two open journeys for Globex, and both belong to the new TAM after the move.
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Moved 1 account to tam_other, with 2 open journeys. Retention figures are being recomputed."
    ]
    assert Journey.objects.filter(account=book["globex"], tam=other_tam).count() == 2
    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_REASSIGNED)
    assert event.details["open_journeys_moved"] == 1


def test_reassignment_counts_moved_journeys(tam, other_tam, book, manager):
    run_by_new_tam = start_journey(account=book["globex"], transaction_date=D(2024, 9, 1), licenses=5)
    Journey.objects.filter(pk=run_by_new_tam.pk).update(tam=other_tam)

    moved = services.reassign_accounts([book["globex"].pk, book["initech"].pk], tam, other_tam, user=manager)

    assert moved == services.Reassignment(accounts=2, journeys=2, journeys_moved=1)


def test_move_records_one_audit_event_per_account(login, tam, other_tam, book, manager):
    login("manager").post(
        URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk, book["initech"].pk], "to_tam": other_tam.pk}
    )

    events = AuditEvent.objects.filter(action=AuditAction.ACCOUNT_REASSIGNED).order_by("label")
    assert [(event.object_type, event.object_id, event.label, event.actor) for event in events] == [
        ("account", str(book["globex"].pk), "Globex (ACC-G)", manager),
        ("account", str(book["initech"].pk), "Initech (ACC-I)", manager),
    ]
    assert [event.details for event in events] == [
        {"changes": {"owning_TAM": ["tam_owner", "tam_other"]}, "open_journeys_moved": 1},
        {"changes": {"owning_TAM": ["tam_owner", "tam_other"]}, "open_journeys_moved": 0},
    ]


def test_move_schedules_a_recompute_of_every_month(login, tam, other_tam, book, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        login("cs_admin").post(URL, {"from_tam": tam.pk, "accounts": [book["initech"].pk], "to_tam": other_tam.pk})

    assert list(PendingRecompute.objects.values_list("months", flat=True)) == [None]
    assert len(callbacks) == 1


def test_accounts_without_tam_get_one(login, other_tam):
    AccountFactory(external_id="ACC-N", name="Nobody's", tam=None)

    response = login("manager").post(
        URL, {"from_tam": "none", "accounts": [Account.objects.get().pk], "to_tam": other_tam.pk}
    )

    assert response.status_code == 302
    assert _owners() == [("ACC-N", "tam_other")]
    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_REASSIGNED)
    assert event.details["changes"] == {"owning_TAM": [None, "tam_other"]}


def _rejected(response, message):
    assert response.status_code == 400
    assert message in _text(response)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accounts": []}, "Select at least one account to move."),
        ({"to_tam": ""}, "Choose the TAM who takes the accounts."),
        ({"accounts": ["x"]}, "The selection names no account. Reload the page and select again."),
        ({"accounts": ["987654"]}, "One of the selected accounts no longer exists."),
        ({"accounts": ["1" * 30]}, "The selection names no account. Reload the page and select again."),
    ],
    ids=["no accounts", "no TAM", "not an id", "no such account", "id beyond 64 bits"],
)
def test_bad_form_names_the_field_and_moves_nothing(login, tam, other_tam, book, change, message):
    before = _owners()
    data = {"from_tam": tam.pk, "accounts": [book["globex"].pk], "to_tam": other_tam.pk, **change}

    response = login("manager").post(URL, data)

    _rejected(response, message)
    assert _owners() == before
    assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_REASSIGNED).exists()
    assert not PendingRecompute.objects.exists()


@pytest.mark.parametrize("search", ["", "no such account"], ids=["whole book", "nothing listed"])
def test_tam_error_shows_above_the_list(login, tam, book, search):
    data = {"from_tam": tam.pk, "q": search, "accounts": [book["globex"].pk], "to_tam": ""}

    page = _text(login("manager").post(URL, data))

    assert 'id="to-tam-error"' in page
    assert page.index("Choose the TAM who takes the accounts.") < page.index('id="book-list"')


def test_move_button_is_above_the_list(login, tam, book):
    page = _text(login("manager").get(URL, {"from_tam": tam.pk}))

    assert page.index('id="id_to_tam"') < page.index('id="book-accounts"')
    assert page.index('id="move"') < page.index('id="book-accounts"')


@pytest.mark.parametrize("who", ["manager", "cs_admin", "inactive_tam", "same_tam"])
def test_only_another_active_tam_takes_accounts(login, tam, book, manager, cs_admin, who):
    to_tam = {
        "manager": manager,
        "cs_admin": cs_admin,
        "inactive_tam": UserFactory(username="gone", role=Role.TAM, is_active=False),
        "same_tam": tam,
    }[who]
    before = _owners()

    response = login("manager").post(URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk], "to_tam": to_tam.pk})

    _rejected(response, "Choose one of the listed TAMs: that user is not an active TAM, or already owns the accounts.")
    assert _owners() == before


def test_new_tam_list_leaves_out_the_book_tam(login, tam, other_tam, book):
    response = login("manager").get(URL, {"from_tam": tam.pk})

    page = _text(response)
    new_tam_list = page[page.index('id="id_to_tam"') :].split("</select>")[0]
    assert f'<option value="{other_tam.pk}"' in new_tam_list
    assert f'<option value="{tam.pk}"' not in new_tam_list


def test_account_of_another_book_moves_nothing(login, tam, other_tam, book):
    third = UserFactory(username="tam_third", role=Role.TAM)
    elsewhere = AccountFactory(external_id="ACC-E", name="Elsewhere", tam=other_tam)
    before = _owners()

    response = login("manager").post(
        URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk, elsewhere.pk], "to_tam": third.pk}
    )

    _rejected(response, "Elsewhere (ACC-E) now belongs to another TAM")
    assert "Nothing was moved" in _text(response)
    assert _owners() == before
    assert Journey.objects.get(pk=book["open"].pk).tam == tam


def test_account_moved_by_an_import_meanwhile_moves_nothing(login, tam, other_tam, book):
    third = UserFactory(username="tam_third", role=Role.TAM)
    page = login("manager").get(URL, {"from_tam": tam.pk})
    assert page.status_code == 200
    Account.objects.filter(pk=book["initech"].pk).update(tam=other_tam)

    response = login("manager").post(
        URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk, book["initech"].pk], "to_tam": third.pk}
    )

    _rejected(response, "Initech (ACC-I) now belongs to another TAM")
    assert _owners() == [("ACC-G", "tam_owner"), ("ACC-I", "tam_other")]


def test_tam_deactivated_while_waiting_moves_nothing(login, tam, other_tam, book, monkeypatch):
    take_lock = services.report_lock

    @contextlib.contextmanager
    def lock_after_deactivation():
        User.objects.filter(pk=other_tam.pk).update(is_active=False)
        with take_lock():
            yield

    monkeypatch.setattr(services, "report_lock", lock_after_deactivation)
    before = _owners()

    response = login("manager").post(URL, {"from_tam": tam.pk, "accounts": [book["globex"].pk], "to_tam": other_tam.pk})

    _rejected(response, "tam_other is no longer an active TAM, so nothing was moved. Choose another TAM.")
    assert _owners() == before
    assert Journey.objects.get(pk=book["open"].pk).tam == tam
    assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_REASSIGNED).exists()
    assert not PendingRecompute.objects.exists()


@pytest.mark.parametrize("who", ["manager", "inactive_tam"])
def test_service_rejects_target_not_active_tam(tam, book, manager, who):
    to_tam = manager if who == "manager" else UserFactory(username="gone", role=Role.TAM, is_active=False)
    before = _owners()

    with pytest.raises(services.TamNotActive):
        services.reassign_accounts([book["globex"].pk], tam, to_tam)

    assert _owners() == before
    assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_REASSIGNED).exists()


@pytest.mark.parametrize("key", ["", "987654", "abc"])
def test_unknown_book_moves_nothing(login, tam, other_tam, book, key):
    before = _owners()

    response = login("manager").post(URL, {"from_tam": key, "accounts": [book["globex"].pk], "to_tam": other_tam.pk})

    _rejected(response, "Choose whose accounts to move: that book is not listed.")
    assert _owners() == before


def test_books_include_leavers_and_no_tam(tam, other_tam, manager):
    leaver = UserFactory(username="left_last_year", role=Role.TAM, is_active=False)
    AccountFactory(tam=tam)
    AccountFactory(tam=tam)
    AccountFactory(tam=leaver)
    AccountFactory(tam=manager)
    AccountFactory(tam=None)

    listed = [(book.key, book.label) for book in selectors.books()]

    assert listed == [
        (str(leaver.pk), "left_last_year (1 account)"),
        (str(manager.pk), "manager (1 account)"),
        (str(other_tam.pk), "tam_other (0 accounts)"),
        (str(tam.pk), "tam_owner (2 accounts)"),
        ("none", "No TAM (1 account)"),
    ]
    assert [user.username for user in selectors.new_tams()] == ["tam_other", "tam_owner"]


def test_search_and_row_limit(login, tam, monkeypatch):
    monkeypatch.setattr(selectors, "BOOK_ROWS_SHOWN", 2)
    for name in ["Acme East", "Acme West", "Acme North", "Zenith"]:
        AccountFactory(name=name, tam=tam)

    everything = login("manager").get(URL, {"from_tam": tam.pk})
    acme = login("manager").get(URL, {"from_tam": tam.pk, "q": "acme"})

    assert "Showing the first 2 of 4 accounts" in _text(everything)
    assert [account.name for account in acme.context["page"].accounts] == ["Acme East", "Acme North"]
    assert acme.context["page"].matching == 3


def test_counts_group_digits(login, tam, monkeypatch):
    monkeypatch.setattr(selectors, "BOOK_ROWS_SHOWN", 2)
    Account.objects.bulk_create(
        Account(external_id=f"BULK-{index}", name=f"Bulk {index}", segment=Segment.SMB, tam=tam)
        for index in range(1_000)
    )

    text = _text(login("manager").get(URL, {"from_tam": tam.pk}))

    assert "Showing the first 2 of 1,000 accounts" in text
    assert f"{tam.get_username()} (1,000 accounts)" in text


def test_search_without_matches_shows_no_table(login, tam, book):
    response = login("manager").get(URL, {"from_tam": tam.pk, "q": "Umbrella"})

    assert 'id="no-accounts"' in _text(response)
    assert "No accounts match the search." in _text(response)
    # An empty table would lay out its header cells by their own text alone.
    assert 'id="book-accounts"' not in _text(response)
    assert 'id="move"' not in _text(response)


def test_book_shows_segment_of_ultimate_parent(tam):
    holding = AccountFactory(name="Globex Holding", tam=tam, segment=Segment.LARGE)
    AccountFactory(name="Globex EU", tam=tam, parent=holding, segment="")
    AccountFactory(name="Initech", tam=tam, segment=Segment.SMB)

    listed = {account.name: account.report_segment for account in selectors.book_accounts(tam).accounts}

    assert listed == {"Globex EU": "Large", "Globex Holding": "Large", "Initech": "SMB"}


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ("a" * 101, "The search has 101 characters, more than the maximum of 100."),
        ("a" * 60000, "The search has 60000 characters, more than the maximum of 100."),
        ("Glob\x00ex", "The search contains a null character. Type the name or id again."),
    ],
    ids=["101 characters", "60,000 characters", "null character"],
)
def test_bad_search_is_rejected(login, tam, other_tam, book, search, message):
    before = _owners()
    client = login("manager")

    listed = client.get(URL, {"from_tam": tam.pk, "q": search})
    posted = client.post(
        URL, {"from_tam": tam.pk, "q": search, "accounts": [book["globex"].pk], "to_tam": other_tam.pk}
    )

    _rejected(listed, message)
    assert [account.name for account in listed.context["page"].accounts] == ["Globex", "Initech"]
    _rejected(posted, message)
    assert _owners() == before
    assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_REASSIGNED).exists()


def test_account_page_move_link(login, tam, book):
    url = f"/accounts/{book['globex'].pk}/"

    as_manager = _text(login("manager").get(url))
    as_tam = _text(login("tam").get(url))

    assert 'id="move-account"' in as_manager
    assert f"from_tam={tam.pk}&amp;q=ACC-G&amp;account={book['globex'].pk}" in as_manager
    assert 'id="move-account"' not in as_tam


def test_link_from_account_page_preselects_the_account(login, tam, book):
    response = login("manager").get(URL, {"from_tam": tam.pk, "account": book["globex"].pk})

    page = _text(response)
    assert f'value="{book["globex"].pk}" id="account-{book["globex"].pk}" checked' in page
    assert f'value="{book["initech"].pk}" id="account-{book["initech"].pk}">' in page
