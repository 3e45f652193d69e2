"""The import pages: roles, upload, column mapping, progress and outcome."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Account
from retention.importing import confirm_mapping, run_import
from retention.models import ColumnMapping, CoveredMonth, ImportKind, ImportRun, ImportStatus, MrrLine
from tests.conftest import PASSWORD
from tests.factories import AccountFactory

MRR_HEADER = "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"
BOM = b"\xef\xbb\xbf"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def no_recompute(monkeypatch):
    # The retention engine has its own tests; these pages only need the import's outcome.
    monkeypatch.setattr("retention.importing.lines.schedule_recompute", lambda months, import_run_id=None: None)
    monkeypatch.setattr("accounts.services.schedule_recompute", lambda months, import_run_id=None: None)


@pytest.fixture
def admin_client(client, cs_admin):
    client.force_login(cs_admin)
    return client


def csv_upload(name, text, *, bom=False, crlf=False):
    data = text.replace("\n", "\r\n") if crlf else text
    return SimpleUploadedFile(name, (BOM if bom else b"") + data.encode("utf-8"), content_type="text/csv")


def upload(client, kind, file, mapping=None):
    data = {"kind": kind, "file": file}
    if mapping is not None:
        data["mapping"] = mapping.pk
    return client.post(reverse("retention:import_new"), data)


def make_run(**fields):
    return ImportRun.objects.create(**({"kind": ImportKind.MRR, "file_name": "m.csv"} | fields))


PAGES = [
    ("retention:import_list", False),
    ("retention:import_new", False),
    ("retention:import_detail", True),
    ("retention:import_mapping", True),
    ("retention:import_progress", True),
]


@pytest.mark.parametrize("name, with_run", PAGES, ids=[name for name, _ in PAGES])
@pytest.mark.parametrize("role", ["tam", "other_tam", "manager"])
def test_import_pages_forbidden_for_tams_and_managers(client, request, role, name, with_run):
    user = request.getfixturevalue(role)
    client.force_login(user)
    args = [make_run(status=ImportStatus.DONE).pk] if with_run else []
    assert client.get(reverse(name, args=args)).status_code == 403


@pytest.mark.parametrize("name, with_run", PAGES, ids=[name for name, _ in PAGES])
def test_import_pages_redirect_anonymous_to_login(client, db, name, with_run):
    args = [make_run(status=ImportStatus.DONE).pk] if with_run else []
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name, with_run", PAGES, ids=[name for name, _ in PAGES])
def test_import_pages_open_for_cs_admin(admin_client, name, with_run):
    args = [make_run(status=ImportStatus.DONE).pk] if with_run else []
    response = admin_client.get(reverse(name, args=args))
    # The mapping page of a finished run sends the admin to its outcome.
    assert response.status_code == (302 if name == "retention:import_mapping" else 200)


def test_post_upload_forbidden_for_manager(client, manager):
    client.force_login(manager)
    response = upload(client, ImportKind.MRR, csv_upload("m.csv", MRR_HEADER))
    assert response.status_code == 403
    assert not ImportRun.objects.exists()


def test_cs_admin_logs_in_with_password(client, cs_admin):
    response = client.post(reverse("login"), {"username": cs_admin.username, "password": PASSWORD})

    assert response.status_code == 302
    assert client.get(reverse("retention:import_list")).status_code == 200


def test_list_shows_past_runs(admin_client):
    make_run(status=ImportStatus.REJECTED, file_name="older.csv")
    make_run(status=ImportStatus.DONE, file_name="newer.csv")
    content = admin_client.get(reverse("retention:import_list")).content.decode()
    assert "older.csv" in content
    assert "newer.csv" in content
    assert content.index("newer.csv") < content.index("older.csv")


def test_done_run_keeps_summary_without_file(tmp_path, db, monkeypatch):
    from retention.importing import runs

    AccountFactory(external_id="ACC-1")
    path = tmp_path / "june.csv"
    path.write_text(MRR_HEADER + "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n", encoding="utf-8")
    size = path.stat().st_size
    real_import = runs._importer(ImportKind.MRR)

    def import_then_remove_file(file_path, **options):
        summary = real_import(file_path, **options)
        path.unlink()
        return summary

    monkeypatch.setattr(runs, "_importer", lambda kind: import_then_remove_file)
    run = make_run(status=ImportStatus.RUNNING)

    runs.execute(run, path)

    run.refresh_from_db()
    assert run.status == ImportStatus.DONE
    assert run.summary["lines_stored"] == 1
    assert run.rows_read == 1
    assert run.bytes_read == run.total_bytes == size


def test_upload_with_product_columns_runs_at_once(
    admin_client, cs_admin, media_root, django_capture_on_commit_callbacks
):
    AccountFactory(external_id="ACC-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            admin_client,
            ImportKind.MRR,
            csv_upload("june.csv", MRR_HEADER + "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n"),
        )

    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("retention:import_detail", args=[run.pk])
    assert run.status == ImportStatus.DONE
    assert run.created_by == cs_admin
    assert run.stored_path.startswith("imports/")
    assert (Path(media_root) / run.stored_path).is_file()
    assert MrrLine.objects.get().mrr == Decimal("10.00")
    assert run.rows_read == 1

    content = admin_client.get(response.url).content.decode()
    assert "MRR lines stored" in content
    assert "import-progress" not in content


# Django cuts uploaded names to 255 characters. With the stored prefix these exceed the file system's 255 bytes.
LONG_NAMES = ["a" * 250 + ".csv", "é" * 120 + ".csv"]


@pytest.mark.parametrize("name", LONG_NAMES, ids=["ascii", "two-byte-letters"])
def test_upload_with_long_file_name_imports(admin_client, media_root, django_capture_on_commit_callbacks, name):
    AccountFactory(external_id="ACC-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            admin_client,
            ImportKind.MRR,
            csv_upload(name, MRR_HEADER + "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n"),
        )

    run = ImportRun.objects.get()
    stored = Path(media_root) / run.stored_path
    assert response.status_code == 302
    assert run.status == ImportStatus.DONE
    assert run.file_name == name
    assert stored.is_file()
    assert len(stored.name.encode()) <= 255
    assert stored.suffix == ".csv"


def test_bom_crlf_accounts_upload_keeps_accents(admin_client, django_capture_on_commit_callbacks):
    text = "account_id,account_name,parent_account_id,segment,tam_email\nACC-B1,Société Ünité,,SMB,\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, ImportKind.ACCOUNTS, csv_upload("a.csv", text, bom=True, crlf=True))

    assert ImportRun.objects.get().status == ImportStatus.DONE
    assert Account.objects.get(external_id="ACC-B1").name == "Société Ünité"


def test_bom_crlf_mrr_upload_imports(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-B1")
    text = (
        MRR_HEADER
        + "2023-06,ACC-B1,SUB-B1,Premium,5,250.00,recurring\n2024-06,ACC-B1,SUB-B1,Premium,6,300.00,recurring\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, ImportKind.MRR, csv_upload("m.csv", text, bom=True, crlf=True))

    assert ImportRun.objects.get().status == ImportStatus.DONE
    assert sorted(MrrLine.objects.values_list("month", "mrr")) == [
        (datetime.date(2023, 6, 1), Decimal("250.00")),
        (datetime.date(2024, 6, 1), Decimal("300.00")),
    ]


def test_mapping_step_with_bom_file(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-B1")
    text = "month,acct,sub,plan,seats,amount,type\n2024-06,ACC-B1,SUB-B1,Premium,6,300.00,recurring\n"
    response = upload(admin_client, ImportKind.MRR, csv_upload("billing.csv", text, bom=True, crlf=True))
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.MAPPING
    assert response.url == reverse("retention:import_mapping", args=[run.pk])

    page = admin_client.get(response.url)
    form = page.context["form"]
    assert form.initial["column_month"] == "month"
    assert form["column_month"].value() == "month"
    assert form.initial["column_mrr"] == ""
    assert '<option value="amount">amount</option>' in page.content.decode()
    assert "end_date_convention" not in form.fields

    choices = {
        "column_month": "month",
        "column_account_id": "acct",
        "column_subscription_id": "sub",
        "column_product": "plan",
        "column_quantity": "seats",
        "column_mrr": "amount",
        "column_charge_type": "type",
        "save_as": "Billing export",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("retention:import_mapping", args=[run.pk]), choices)

    assert response.url == reverse("retention:import_detail", args=[run.pk])
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE
    assert MrrLine.objects.get().mrr == Decimal("300.00")
    saved = ColumnMapping.objects.get(name="Billing export")
    assert saved.kind == ImportKind.MRR
    assert saved.columns["month"] == "month"
    assert saved.columns["mrr"] == "amount"


def test_mapping_posted_twice_queues_once(admin_client, django_capture_on_commit_callbacks):
    text = "month,acct,subscription_id,product,quantity,amount,charge_type\n2024-06,ACC-1,SUB-1,P,1,5.00,recurring\n"
    upload(admin_client, ImportKind.MRR, csv_upload("m.csv", text))
    run = ImportRun.objects.get()
    choices = {
        "column_month": "month",
        "column_account_id": "acct",
        "column_subscription_id": "subscription_id",
        "column_product": "product",
        "column_quantity": "quantity",
        "column_mrr": "amount",
        "column_charge_type": "charge_type",
    }
    # Both posts passed the view's check of the run's step before either confirmed it.
    confirmed = [
        confirm_mapping(run, columns={"mrr": "amount"}, end_date="exclusive", save_as="Billing"),
        confirm_mapping(run, columns={"mrr": "amount"}, end_date="exclusive", save_as="Billing"),
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(reverse("retention:import_mapping", args=[run.pk]), choices)

    assert confirmed == [True, False]
    assert ColumnMapping.objects.filter(name="Billing").count() == 1
    assert response.url == reverse("retention:import_detail", args=[run.pk])
    assert callbacks == []
    run.refresh_from_db()
    assert run.status == ImportStatus.QUEUED


def test_saved_mapping_skips_mapping_step(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-1")
    mapping = ColumnMapping.objects.create(
        name="Billing", kind=ImportKind.MRR, columns={"account_id": "acct", "mrr": "amount"}
    )
    text = "month,acct,subscription_id,product,quantity,amount,charge_type\n2024-06,ACC-1,SUB-1,P,1,5.00,recurring\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, ImportKind.MRR, csv_upload("m.csv", text), mapping=mapping)

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE
    assert run.columns == {"account_id": "acct", "mrr": "amount"}


def test_saved_mapping_of_other_kind_rejected_by_form(admin_client):
    mapping = ColumnMapping.objects.create(name="Accounts", kind=ImportKind.ACCOUNTS, columns={})
    response = upload(admin_client, ImportKind.MRR, csv_upload("m.csv", MRR_HEADER), mapping=mapping)
    assert response.status_code == 200
    assert "mapping" in response.context["form"].errors
    assert not ImportRun.objects.exists()


def test_subscription_upload_asks_end_date_convention(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-K2")
    text = (
        "subscription_id,account_id,product,quantity,mrr,start_date,end_date\n"
        "SUB-K2,ACC-K2,Premium,10,100.00,2023-01-01,2023-01-31\n"
        "SUB-K2,ACC-K2,Premium,10,100.00,2023-02-01,2023-02-28\n"
    )
    response = upload(admin_client, ImportKind.SUBSCRIPTIONS, csv_upload("periods.csv", text))
    run = ImportRun.objects.get()
    assert response.url == reverse("retention:import_mapping", args=[run.pk])
    form = admin_client.get(response.url).context["form"]
    assert form.initial["end_date_convention"] == "exclusive"
    assert form.initial["column_end_date"] == "end_date"

    choices = {f"column_{name}": name for name in ["subscription_id", "account_id", "product", "quantity", "mrr"]}
    choices |= {"column_start_date": "start_date", "column_end_date": "end_date", "end_date_convention": "inclusive"}
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("retention:import_mapping", args=[run.pk]), choices)

    run.refresh_from_db()
    assert run.status == ImportStatus.DONE
    assert run.end_date == "inclusive"
    assert sorted(MrrLine.objects.values_list("month", flat=True)) == [
        datetime.date(2023, 1, 1),
        datetime.date(2023, 2, 1),
    ]


def test_mapping_rejects_one_column_used_twice(admin_client):
    response = upload(admin_client, ImportKind.MRR, csv_upload("m.csv", "a,b,c,d,e,f,g\n"))
    run = ImportRun.objects.get()
    choices = {f"column_{name}": "a" for name in ["month", "account_id", "subscription_id", "product", "quantity"]}
    choices |= {"column_mrr": "f", "column_charge_type": "g"}
    response = admin_client.post(reverse("retention:import_mapping", args=[run.pk]), choices)
    assert response.status_code == 200
    assert "already used for month" in str(response.context["form"].errors)
    run.refresh_from_db()
    assert run.status == ImportStatus.MAPPING


def test_rejected_upload_shows_error_table(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-N1")
    text = MRR_HEADER + '2024-06,ACC-N1,SUB-N1,Premium,50,"1,250.00",recurring\n'
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, ImportKind.MRR, csv_upload("mrr_a.csv", text))

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.REJECTED
    assert run.errors[0]["line"] == 2
    assert run.errors[0]["column"] == "mrr"
    assert not MrrLine.objects.exists()
    assert not CoveredMonth.objects.exists()
    content = admin_client.get(response.url).content.decode()
    assert "nothing was stored" in content
    assert "<code>1,250.00</code>" in content
    assert "no thousands separators" in content


def test_rejected_mapped_file_names_file_column(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-N1")
    mapping = ColumnMapping.objects.create(name="Billing", kind=ImportKind.MRR, columns={"mrr": "amount"})
    text = "month,account_id,subscription_id,product,quantity,amount,charge_type\n"
    text += '2024-06,ACC-N1,SUB-N1,Premium,50,"1,250.00",recurring\n2024-13,ACC-N1,SUB-N1,Premium,50,1.00,recurring\n'
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, ImportKind.MRR, csv_upload("billing.csv", text), mapping=mapping)

    content = admin_client.get(response.url).content.decode()

    assert ImportRun.objects.get().status == ImportStatus.REJECTED
    mrr_cell, month_cell = content.split("<td><code>")[1:3]
    assert mrr_cell.startswith("mrr</code>")
    assert "file column <code>amount</code>" in mrr_cell.split("</td>")[0]
    assert month_cell.startswith("month</code>")
    assert "file column" not in month_cell.split("</td>")[0]


def test_rejected_long_value_shown_cut(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-N1")
    product = "P" * 100_000
    text = MRR_HEADER + f"2024-06,ACC-N1,SUB-N1,{product},50,1250.00,recurring\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, ImportKind.MRR, csv_upload("mrr_long.csv", text))

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.REJECTED
    assert run.errors[0]["column"] == "product"
    assert run.errors[0]["value"] == "P" * 200 + "…"
    assert run.errors[0]["reason"] == "longer than 100 characters"
    content = admin_client.get(response.url).content.decode()
    assert f"<code>{'P' * 200}…</code>" in content
    assert "P" * 201 not in content


def test_detail_of_queued_run_polls_progress(admin_client):
    run = make_run(status=ImportStatus.QUEUED, total_bytes=1000)
    content = admin_client.get(reverse("retention:import_detail", args=[run.pk])).content.decode()
    assert 'id="import-progress"' in content
    assert reverse("retention:import_progress", args=[run.pk]) in content


def test_progress_json_reports_rows_and_percent(admin_client):
    run = make_run(status=ImportStatus.RUNNING, total_bytes=1000, bytes_read=250, rows_read=5000)
    data = admin_client.get(reverse("retention:import_progress", args=[run.pk])).json()
    assert data["status"] == "running"
    assert data["rows_read"] == 5000
    assert data["percent"] == 25
    assert data["finished"] is False


def test_task_delivered_twice_imports_once(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="ACC-R1")
    text = MRR_HEADER + "2024-06,ACC-R1,SUB-R1,Premium,12,120.00,recurring\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, ImportKind.MRR, csv_upload("mrr_2024.csv", text))
    run = ImportRun.objects.get()
    finished_at = run.finished_at

    run_import(run.pk)

    run.refresh_from_db()
    assert run.finished_at == finished_at
    assert list(MrrLine.objects.values_list("mrr", flat=True)) == [Decimal("120.00")]


def test_running_run_is_not_claimed_again(db, tmp_path):
    run = make_run(status=ImportStatus.RUNNING, stored_path="imports/missing.csv")
    run_import(run.pk)
    run.refresh_from_db()
    assert run.status == ImportStatus.RUNNING


@pytest.mark.parametrize("name", ["retention:import_list", "retention:import_detail", "retention:import_progress"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_read_only_import_pages_reject_other_methods(admin_client, name, method):
    args = [] if name == "retention:import_list" else [make_run(status=ImportStatus.DONE).pk]
    response = getattr(admin_client, method)(reverse(name, args=args))

    assert response.status_code == 405


@pytest.mark.parametrize("name", ["retention:import_new", "retention:import_mapping"])
def test_form_import_pages_reject_put(admin_client, name):
    args = [] if name == "retention:import_new" else [make_run(status=ImportStatus.MAPPING).pk]
    response = admin_client.put(reverse(name, args=args))

    assert response.status_code == 405
    assert not ImportRun.objects.exclude(status=ImportStatus.MAPPING).exists()


def test_upload_of_spreadsheet_rejected_naming_type(admin_client):
    workbook = SimpleUploadedFile("accounts.xlsx", b"PK\x03\x04\x00\x00binary", content_type="application/vnd.ms-excel")

    response = upload(admin_client, ImportKind.ACCOUNTS, workbook)

    assert response.status_code == 200
    assert "Only CSV files (.csv, .txt, .tsv) can be imported, not .xlsx" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_upload_of_binary_csv_rejected(admin_client):
    binary = SimpleUploadedFile("accounts.csv", b"account_id\x00\x01\x02", content_type="text/csv")

    response = upload(admin_client, ImportKind.ACCOUNTS, binary)

    assert "contains binary data" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_upload_over_size_limit_rejected_before_reading(admin_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    big = csv_upload("m.csv", MRR_HEADER + "2024-06,ACC-1,SUB-1,Premium,1,1.00,recurring\n" * 40_000)

    response = upload(admin_client, ImportKind.MRR, big)

    assert response.status_code == 413
    assert "uploads are limited to 1 MB" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_upload_with_unreadable_length_rejected(admin_client):
    # Django's parser reads such a request as one without a body, so the page shows the empty form again.
    response = admin_client.post(reverse("retention:import_new"), {}, CONTENT_LENGTH="abc")

    assert response.status_code == 200
    assert 'name="file"' in response.content.decode()
    assert not ImportRun.objects.exists()


def test_detail_shows_removed_lines_and_warning(admin_client):
    AccountFactory(external_id="ACC-1")
    AccountFactory(external_id="ACC-2")
    one_line = "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n"
    two_lines = one_line + "2024-06,ACC-2,SUB-2,Premium,1,20.00,recurring\n"
    for name, text in [("both.csv", two_lines), ("one.csv", one_line)]:
        upload(admin_client, ImportKind.MRR, csv_upload(name, MRR_HEADER + text))
        run_import(ImportRun.objects.latest("pk").pk)

    run = ImportRun.objects.latest("pk")
    content = admin_client.get(reverse("retention:import_detail", args=[run.pk])).content.decode()

    assert run.status == ImportStatus.DONE
    assert '<span id="lines-deleted">2</span>' in content
    assert "The replaced months held 2 MRR line(s) before this import and hold 1 now." in content


@pytest.mark.parametrize(
    ("months", "shown"),
    [
        (["2024-06"], "2024-06"),
        (["2023-06", "2024-06"], "2023-06, 2024-06"),
        ([f"2024-{month:02}" for month in range(1, 9)], "2024-01 to 2024-08 (8 months)"),
        ([f"2024-{month:02}" for month in range(1, 9)] + ["2025-06"], "9 months from 2024-01 to 2025-06, with gaps"),
    ],
    ids=["one", "two-apart", "eight-in-a-row", "nine-with-gaps"],
)
def test_detail_names_replaced_months(admin_client, months, shown):
    summary = {"rows_read": 1, "lines_stored": 1, "months_replaced": months, "subscriptions_created": 0}
    run = make_run(status=ImportStatus.DONE, summary=summary)

    content = admin_client.get(reverse("retention:import_detail", args=[run.pk])).content.decode()

    assert f'<dd class="col-sm-9">{shown}</dd>' in content


def test_detail_groups_digits_of_counts(admin_client):
    summary = {
        "rows_read": 1_135_817,
        "lines_stored": 1_135_817,
        "lines_deleted": 12_040,
        "months_replaced": ["2024-06"],
        "subscriptions_created": 62_248,
    }
    run = make_run(status=ImportStatus.DONE, summary=summary, rows_read=1_135_817)

    content = admin_client.get(reverse("retention:import_detail", args=[run.pk])).content.decode()

    assert '<dd class="col-sm-9">1,135,817</dd>' in content
    assert '<span id="lines-deleted">12,040</span>' in content
    assert '<dd class="col-sm-9">62,248</dd>' in content
