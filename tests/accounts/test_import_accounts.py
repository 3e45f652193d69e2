"""The accounts import: import_accounts command and accounts.services.import_accounts."""

import contextlib
import datetime

import pytest
from django.core.management import CommandError, call_command

from accounts import services
from accounts.models import Account, Segment, User
from accounts.roles import Role
from accounts.services import find_cycles, import_accounts, refresh_ultimate_parents
from common.csvimport import ImportRejected
from journeys.services import start_journey
from retention.models import ImportRun, ImportStatus
from tests.factories import AccountFactory, UserFactory

HEADER = "account_id,account_name,parent_account_id,segment,tam_email\n"


def write_csv(path, text, *, bom=False, crlf=False):
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return str(path)


def snapshot():
    return {
        "accounts": sorted(
            Account.objects.values_list("external_id", "name", "parent__external_id", "segment", "tam_id")
        ),
        "users": sorted(User.objects.values_list("username", flat=True)),
    }


@pytest.fixture(autouse=True)
def recorded_recomputes(monkeypatch):
    calls = []
    monkeypatch.setattr("accounts.services.schedule_recompute", lambda months, import_run_id=None: calls.append(months))
    return calls


def run_rejected(path):
    before = snapshot()
    with pytest.raises(CommandError) as raised:
        call_command("import_accounts", path)
    assert snapshot() == before
    return str(raised.value)


def test_import_creates_hierarchy_with_ultimate_parents(tmp_path, db, recorded_recomputes):
    path = write_csv(
        tmp_path / "a.csv",
        HEADER + "ACC-3,Grandchild,ACC-2,SMB,\nACC-1,Top,,Large,\nACC-2,Child,ACC-1,mid-market,\n",
    )
    call_command("import_accounts", path)

    accounts = {account.external_id: account for account in Account.objects.select_related("parent", "ultimate_parent")}
    assert accounts["ACC-3"].parent.external_id == "ACC-2"
    assert accounts["ACC-3"].ultimate_parent.external_id == "ACC-1"
    assert accounts["ACC-2"].ultimate_parent.external_id == "ACC-1"
    assert accounts["ACC-1"].ultimate_parent.external_id == "ACC-1"
    assert accounts["ACC-2"].segment == Segment.MID_MARKET
    assert recorded_recomputes == [None]


def test_leading_zeros_and_long_ids_stored_exactly(tmp_path, db):
    path = write_csv(
        tmp_path / "a.csv",
        HEADER + "00123,Globex Holding,,Large,\n00456,Globex EU,00123,Large,\n123456789012345678,Long,,SMB,\n",
    )
    call_command("import_accounts", path)

    assert set(Account.objects.values_list("external_id", flat=True)) == {"00123", "00456", "123456789012345678"}
    assert Account.objects.get(external_id="00456").ultimate_parent.external_id == "00123"


def test_bom_crlf_file_keeps_accents(tmp_path, db):
    path = write_csv(tmp_path / "a.csv", HEADER + "ACC-B1,Société Ünité,,SMB,\n", bom=True, crlf=True)
    call_command("import_accounts", path)

    assert Account.objects.get(external_id="ACC-B1").name == "Société Ünité"


def test_reimport_updates_by_id_and_changes_nothing_else(tmp_path, db):
    path = write_csv(tmp_path / "a.csv", HEADER + "ACC-1,Top,,Large,\nACC-2,Child,ACC-1,SMB,t@example.com\n")
    call_command("import_accounts", path)
    first = snapshot()
    ids = dict(Account.objects.values_list("external_id", "id"))

    call_command("import_accounts", path)

    assert snapshot() == first
    assert dict(Account.objects.values_list("external_id", "id")) == ids


def test_reimport_moves_account_to_new_parent(tmp_path, db):
    call_command("import_accounts", write_csv(tmp_path / "1.csv", HEADER + "P1,One,,Large,\nP2,Two,,SMB,\nC,C,P1,,\n"))
    call_command("import_accounts", write_csv(tmp_path / "2.csv", HEADER + "C,Child renamed,P2,SMB,\n"))

    child = Account.objects.get(external_id="C")
    assert child.name == "Child renamed"
    assert child.ultimate_parent.external_id == "P2"
    assert Account.objects.count() == 3


def test_absent_optional_columns_keep_stored_values(tmp_path, db):
    tam = UserFactory(email="t@example.com")
    parent = AccountFactory(external_id="P")
    AccountFactory(external_id="C", parent=parent, segment=Segment.LARGE, tam=tam)
    call_command("import_accounts", write_csv(tmp_path / "a.csv", "account_id,account_name\nC,Renamed\n"))

    child = Account.objects.get(external_id="C")
    assert (child.name, child.parent_id, child.segment, child.tam_id) == ("Renamed", parent.id, Segment.LARGE, tam.id)


def test_unknown_tam_email_creates_tam_user(tmp_path, db, capsys):
    existing = UserFactory(username="known", email="Known@Example.com", role=Role.TAM)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,A,,SMB,new.tam@example.com\nB,B,,SMB,known@example.com\n")
    call_command("import_accounts", path)

    created = User.objects.get(username="new.tam@example.com")
    assert created.email == "new.tam@example.com"
    assert not created.has_usable_password()
    assert created.has_role(Role.TAM)
    assert Account.objects.get(external_id="A").tam == created
    assert Account.objects.get(external_id="B").tam == existing
    assert "TAM users created: 1 (new.tam@example.com)" in capsys.readouterr().out


def test_service_returns_summary(tmp_path, db):
    AccountFactory(external_id="OLD")
    summary = import_accounts(write_csv(tmp_path / "a.csv", HEADER + "OLD,Old,,SMB,\nNEW,New,OLD,SMB,x@example.com\n"))

    assert summary["rows_read"] == 2
    assert summary["accounts_created"] == 1
    assert summary["accounts_updated"] == 1
    assert summary["users_created"] == 1
    assert summary["created_user_emails"] == ["x@example.com"]


def test_duplicate_id_rejects_file(tmp_path, db):
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,\nB,Two,,SMB,\nA,Again,,SMB,\n"))
    assert "line 4, column account_id, value 'A': duplicate account_id, first on line 2" in message


def test_unknown_parent_rejects_file(tmp_path, db):
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,\nB,Two,ZZZ,SMB,\n"))
    assert "line 3, column parent_account_id, value 'ZZZ': unknown parent account" in message


def test_parent_stored_in_database_is_known(tmp_path, db):
    AccountFactory(external_id="STORED")
    call_command("import_accounts", write_csv(tmp_path / "a.csv", HEADER + "B,Two,STORED,SMB,\n"))
    assert Account.objects.get(external_id="B").ultimate_parent.external_id == "STORED"


def test_own_parent_rejects_file(tmp_path, db):
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,\nB,Two,B,SMB,\n"))
    assert "line 3, column parent_account_id, value 'B': the account is its own parent" in message


def test_cycle_within_file_rejects_file(tmp_path, db):
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + "A,One,C,SMB,\nB,Two,A,SMB,\nC,Three,B,SMB,\n"))
    for line in (2, 3, 4):
        assert f"line {line}, column parent_account_id" in message
    assert "cycle in the account hierarchy" in message


def test_cycle_through_stored_accounts_rejects_file(tmp_path, db):
    top = AccountFactory(external_id="TOP")
    AccountFactory(external_id="MID", parent=top)
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + "TOP,Top,MID,Large,\n"))
    assert "line 2, column parent_account_id, value 'MID': cycle in the account hierarchy: TOP → MID → TOP" in message


def test_unknown_segment_rejects_file(tmp_path, db):
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + "A,One,,Enterprise,\n"))
    assert "line 2, column segment, value 'Enterprise': unknown segment; expected Large, Mid-Market or SMB" in message


def test_malformed_email_rejects_file(tmp_path, db):
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,not-an-address\n"))
    assert "line 2, column tam_email, value 'not-an-address': malformed e-mail address" in message
    assert not User.objects.filter(username="not-an-address").exists()


@pytest.mark.parametrize(
    ("role", "active"),
    [(Role.MANAGER, True), (Role.CS_ADMIN, True), (None, True), (Role.TAM, False)],
    ids=["manager", "cs-admin", "no-role", "deactivated-tam"],
)
def test_tam_email_of_non_tam_rejects_file(tmp_path, db, role, active):
    owner = UserFactory(username="owner", role=Role.TAM)
    UserFactory(username="someone", email="someone@example.com", role=role, is_active=active)
    AccountFactory(external_id="A", name="One", tam=owner)
    path = write_csv(tmp_path / "a.csv", HEADER + "B,Two,,SMB,owner@example.com\nA,One,,SMB,Someone@example.com\n")

    message = run_rejected(path)

    assert "line 3, column tam_email, value 'someone@example.com': user someone is not an active TAM" in message
    assert "line 2" not in message
    assert Account.objects.get(external_id="A").tam == owner


def test_departed_current_tam_kept(tmp_path, db):
    departed = UserFactory(username="departed", role=Role.TAM, is_active=False)
    AccountFactory(external_id="A", name="One", tam=departed)
    unchanged = write_csv(tmp_path / "a.csv", HEADER + "A,One renamed,,SMB,departed@example.com\n")

    call_command("import_accounts", unchanged)

    account = Account.objects.get(external_id="A")
    assert account.name == "One renamed"
    assert account.tam == departed


def test_departed_tam_rejected_for_other_account(tmp_path, db):
    departed = UserFactory(username="departed", role=Role.TAM, is_active=False)
    AccountFactory(external_id="A", name="One", tam=departed)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,departed@example.com\nB,Two,,SMB,departed@example.com\n")

    message = run_rejected(path)

    assert "line 3, column tam_email, value 'departed@example.com': user departed is not an active TAM" in message
    assert "line 2" not in message


def test_active_tam_wins_shared_address(tmp_path, db):
    UserFactory(username="left", email="shared@example.com", role=Role.TAM, is_active=False)
    UserFactory(username="manager", email="shared@example.com", role=Role.MANAGER)
    holder = UserFactory(username="holder", email="Shared@example.com", role=Role.TAM)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,shared@example.com\n")

    call_command("import_accounts", path)

    assert Account.objects.get(external_id="A").tam == holder
    assert not User.objects.filter(username="shared@example.com").exists()


def test_active_tam_by_username_wins_any_case(tmp_path, db):
    UserFactory(username="left", email="shared@example.com", role=Role.TAM, is_active=False)
    holder = UserFactory(username="Shared@Example.COM", email="", role=Role.TAM)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,SHARED@example.com\n")

    call_command("import_accounts", path)

    assert Account.objects.get(external_id="A").tam == holder


def test_email_match_wins_over_username_match(tmp_path, db):
    UserFactory(username="ana@example.com", email="", role=Role.TAM)
    by_email = UserFactory(username="ana", email="ana@example.com", role=Role.TAM)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,ana@example.com\n")

    call_command("import_accounts", path)

    assert Account.objects.get(external_id="A").tam == by_email


def test_reimport_keeps_current_tam_sharing_address(tmp_path, db):
    UserFactory(username="first", email="team@example.com", role=Role.TAM)
    current = UserFactory(username="current", email="team@example.com", role=Role.TAM)
    account = AccountFactory(external_id="A", name="One", tam=current)
    journey = start_journey(account=account, transaction_date=datetime.date(2024, 1, 1), licenses=10)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One renamed,,SMB,team@example.com\n")

    summary = import_accounts(path)

    account.refresh_from_db()
    journey.refresh_from_db()
    assert account.name == "One renamed"
    assert account.tam == current
    assert journey.tam == current
    assert summary["journeys_reassigned"] == 0


def test_departed_current_tam_kept_beside_manager(tmp_path, db):
    UserFactory(username="boss", email="ana@example.com", role=Role.MANAGER)
    departed = UserFactory(username="ana", email="ana@example.com", role=Role.TAM, is_active=False)
    AccountFactory(external_id="A", name="One", tam=departed)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One renamed,,SMB,ana@example.com\n")

    call_command("import_accounts", path)

    account = Account.objects.get(external_id="A")
    assert account.name == "One renamed"
    assert account.tam == departed


def test_shared_address_rejected_for_other_account(tmp_path, db):
    UserFactory(username="boss", email="ana@example.com", role=Role.MANAGER)
    departed = UserFactory(username="ana", email="ana@example.com", role=Role.TAM, is_active=False)
    AccountFactory(external_id="A", name="One", tam=departed)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,ana@example.com\nB,Two,,SMB,ana@example.com\n")

    message = run_rejected(path)

    assert "line 3, column tam_email, value 'ana@example.com': user boss is not an active TAM" in message
    assert "line 2" not in message


def test_tam_deactivated_while_waiting_for_lock(tmp_path, db, monkeypatch):
    leaving = UserFactory(username="leaving", role=Role.TAM)
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,leaving@example.com\nB,Two,,SMB,new@example.com\n")
    real_lock = services.report_lock

    @contextlib.contextmanager
    def lock_taken_after_deactivation():
        # The import waited for the lock behind another import while an admin deactivated the TAM.
        User.objects.filter(pk=leaving.pk).update(is_active=False)
        with real_lock():
            yield

    monkeypatch.setattr(services, "report_lock", lock_taken_after_deactivation)

    message = run_rejected(path)

    assert "line 2, column tam_email, value 'leaving@example.com': user leaving is not an active TAM" in message
    assert "line 3" not in message


def test_rejection_records_run_and_creates_no_user(tmp_path, db):
    path = write_csv(tmp_path / "a.csv", HEADER + "A,One,,SMB,new@example.com\nA,Two,,SMB,\n")
    with pytest.raises(CommandError):
        call_command("import_accounts", path)

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.REJECTED
    assert run.error_count == 1
    assert not User.objects.filter(email="new@example.com").exists()


def test_service_raises_rejection_with_all_errors(tmp_path, db):
    rows = "".join(f"A{i},Name,,Bad,\n" for i in range(60))
    with pytest.raises(ImportRejected) as raised:
        import_accounts(write_csv(tmp_path / "a.csv", HEADER + rows))
    assert raised.value.error_count == 60
    assert len(raised.value.errors) == 50
    assert raised.value.lines()[-1] == "and 10 more"


def test_command_prints_first_fifty_errors_and_count(tmp_path, db):
    rows = "".join(f"A{i},Name,,Bad,\n" for i in range(60))
    message = run_rejected(write_csv(tmp_path / "a.csv", HEADER + rows))
    assert "line 51, column segment" in message
    assert "line 52, column segment" not in message
    assert message.rstrip().endswith("and 10 more")


def test_missing_required_column_is_named(tmp_path, db):
    message = run_rejected(write_csv(tmp_path / "a.csv", "account_id,name\nA,One\n"))
    assert "line 1, column account_name" in message
    assert "missing column account_name" in message


def test_column_mapping_option(tmp_path, db):
    path = write_csv(tmp_path / "a.csv", "Id,Name,Tier\nA,One,smb\n")
    call_command("import_accounts", path, columns="account_id=Id,account_name=Name,segment=Tier")
    assert Account.objects.get(external_id="A").segment == Segment.SMB


def test_find_cycles_returns_each_cycle_once():
    cycles = find_cycles({"a": "b", "b": "a", "c": "a", "d": None, "e": "e"})
    assert sorted(sorted(cycle) for cycle in cycles) == [["a", "b"], ["e"]]


def test_refresh_ultimate_parents_fixes_stale_values(db):
    top = AccountFactory(external_id="T")
    child = AccountFactory(external_id="C", parent=top)
    Account.objects.filter(pk=child.pk).update(ultimate_parent=child)

    assert refresh_ultimate_parents() == 1
    child.refresh_from_db()
    assert child.ultimate_parent_id == top.id
