"""Query count and server time of the retention pages, measured in-process against a benchmark database.

Run with DJANGO_SETTINGS_MODULE and DATABASE_URL set; prints one JSON object.
"""

import json
import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402
from retention.models import RetentionResult  # noqa: E402

REPEATS = 5


def main():
    user, _ = User.objects.get_or_create(username="bench-manager")
    user.groups.add(Group.objects.get(name="Manager"))
    client = Client()
    client.force_login(user)
    month = (
        RetentionResult.objects.filter(level="parent", segment="all", customers__gt=0)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    name = f"{month:%Y-%m}"
    pages = {
        "overview": "/retention/",
        "month detail": f"/retention/{name}/?level=parent&sort=-a",
        "reasons": f"/retention/reasons/?month={name}&level=parent",
    }
    report = {}
    for label, url in pages.items():
        client.get(url)
        timings = []
        for _ in range(REPEATS):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        report[label] = {"queries": len(queries), "milliseconds": round(statistics.median(timings) * 1000, 1)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
