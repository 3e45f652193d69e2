"""The embedded run's in-process tasks: no broker service and no warning about one."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ENQUEUE = """
import django
django.setup()
from config.celery import app
with app.producer_or_acquire() as producer:
    print(producer.connection.transport_cls)
"""


def test_in_process_enqueue_logs_no_warning(tmp_path):
    environment = {
        key: value for key, value in os.environ.items() if key not in ("CELERY_BROKER_URL", "TEST_CELERY_BROKER_URL")
    }
    environment |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }

    # An in-process task acquires a producer to serialize its arguments, as this does.
    completed = subprocess.run(
        [sys.executable, "-c", ENQUEUE], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "memory"
    assert "No hostname was supplied" not in completed.stderr
