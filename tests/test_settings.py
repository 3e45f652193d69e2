"""Settings read the environment; each case imports them in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, "
    "'demo_credit': s.SHOW_DEMO_CREDIT}))"
)


def run_settings(module, **environment):
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SHOW_DEMO_CREDIT"}
    }
    clean.update(environment, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_defaults_use_sqlite_file_and_in_process_tasks():
    completed = run_settings("config.settings.local")

    values = json.loads(completed.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"].endswith("db.sqlite3")
    assert values["eager"] is True
    assert values["demo_credit"] is True


def test_environment_selects_postgresql_and_redis():
    completed = run_settings(
        "config.settings.local",
        DATABASE_URL="postgres://someone@127.0.0.1:5432/elsewhere",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/3",
        ALLOWED_HOSTS="a.example.com,b.example.com",
        DEBUG="false",
    )

    values = json.loads(completed.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "elsewhere"
    assert values["eager"] is False
    assert values["debug"] is False
    assert values["hosts"] == ["a.example.com", "b.example.com"]


def test_production_refuses_to_start_without_secret_key():
    completed = run_settings("config.settings.production")

    assert completed.returncode != 0
    assert "SECRET_KEY is missing" in completed.stderr


def test_production_starts_with_secret_key():
    completed = run_settings("config.settings.production", SECRET_KEY="a-long-random-production-secret")

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["debug"] is False
    assert json.loads(completed.stdout)["demo_credit"] is False


def test_production_passes_deploy_checks():
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="k" * 20 + "a-long-random-production-secret-for-the-check",
        ALLOWED_HOSTS="tamarind.example.com",
    )

    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
