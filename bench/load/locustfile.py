"""Simulated users of the load run: a manager and TAMs browse the retention, reasons and My accounts pages.

`bench/load/run.py` sets the environment: LOAD_PASSWORD, LOAD_TAMS (user
names, comma-separated), LOAD_MONTHS (YYYY-MM, comma-separated), LOAD_USERS, LOAD_SECONDS,
LOAD_STARTED and LOAD_SAMPLES. Once every user has logged in, locust creates the
file LOAD_STARTED and runs for LOAD_SECONDS more. It appends every request's name, time, outcome
and whether it came after the last login to the file LOAD_SAMPLES as JSON lines.
"""

import json
import os
import random
import re
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
TAMS = [name for name in os.environ.get("LOAD_TAMS", "").split(",") if name]
MONTHS = [month for month in os.environ.get("LOAD_MONTHS", "").split(",") if month]
LEVELS = ["parent", "account", "subscription"]
SEGMENTS = ["all", "Large", "Mid-Market", "SMB", "Commercial"]

# One JSON line per request: [name, milliseconds, succeeded, after the last login]. Written as the
# requests complete, so that the file is whole however locust stops.
samples = open(os.environ["LOAD_SAMPLES"], "a", buffering=1) if os.environ.get("LOAD_SAMPLES") else None  # noqa: SIM115
logged_in = 0
measuring = False


@events.request.add_listener
def record_sample(name, response_time, exception, **kwargs):
    if samples is not None:
        samples.write(json.dumps([name, response_time, exception is None, measuring]) + "\n")


def user_logged_in(environment) -> None:
    """Start the measured run when the last user has logged in. It ends LOAD_SECONDS later."""
    global logged_in, measuring
    logged_in += 1
    if logged_in == int(os.environ.get("LOAD_USERS", "0")) and not measuring:
        measuring = True
        Path(os.environ["LOAD_STARTED"]).touch()
        gevent.spawn_later(int(os.environ.get("LOAD_SECONDS", "120")), environment.runner.quit)


class Reader(HttpUser):
    """A user who logs in once, then opens a page every one to three seconds."""

    abstract = True
    wait_time = between(1, 3)
    username = ""

    def on_start(self):
        form = self.client.get("/login/", name="login form")
        token = CSRF_FIELD.search(form.text)
        with self.client.post(
            "/login/",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            name="login",
            catch_response=True,
        ) as response:
            if 'name="password"' in response.text:
                response.failure(f"login as {self.username} failed")
        user_logged_in(self.environment)

    def _filters(self) -> str:
        return f"level={random.choice(LEVELS)}&segment={random.choice(SEGMENTS)}"

    @task(3)
    def overview(self):
        self.client.get(f"/retention/?{self._filters()}", name="retention overview")

    @task(3)
    def month_detail(self):
        page = random.choice([1, 1, 1, 2, 3])
        self.client.get(
            f"/retention/{random.choice(MONTHS)}/?{self._filters()}&page={page}", name="retention month detail"
        )

    @task(2)
    def reasons(self):
        self.client.get(f"/retention/reasons/?month={random.choice(MONTHS)}&{self._filters()}", name="reasons")

    @task(2)
    def my_accounts(self):
        self.client.get("/journeys/", name="my accounts")


class Manager(Reader):
    weight = 1
    username = "manager"


class Tam(Reader):
    weight = 2

    def on_start(self):
        self.username = random.choice(TAMS)
        super().on_start()
