"""A logged-in HTTP client for the site, on the standard library only, for the load checker and operations tests."""

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Page:
    """One response: status code, decoded body, headers and the seconds until the body was read."""

    status: int
    text: str
    headers: dict
    seconds: float


class LoginFailed(RuntimeError):
    pass


class Browser:
    """Keep the session and CSRF cookies of one user, as a web browser does."""

    def __init__(self, base_url: str, timeout: float = 15):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.base_url + path))

    def post_form(self, path: str, fields: dict[str, str]) -> Page:
        body = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body, method="POST"))

    def login(self, username: str, password: str) -> None:
        """Log in through the login form; raise LoginFailed unless the site redirects away from it."""
        form = self.get("/login/")
        token = CSRF_FIELD.search(form.text)
        if form.status != 200 or token is None:
            raise LoginFailed(f"GET /login/ returned {form.status} without a CSRF token")
        page = self.post_form(
            "/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
        )
        # A successful login redirects to the home page, and a failed one shows the form again.
        if page.status != 200 or 'name="password"' in page.text:
            raise LoginFailed(f"login as {username!r} failed with status {page.status}")

    def _open(self, request: urllib.request.Request) -> Page:
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8", "replace")
                return Page(response.status, text, dict(response.headers), time.monotonic() - started)
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            return Page(error.code, text, dict(error.headers), time.monotonic() - started)
