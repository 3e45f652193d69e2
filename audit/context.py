"""The user on whose behalf the current code runs, for services that take no user argument.

A web request sets it through ActingUserMiddleware. A Celery task or a test
sets it with `acting_as`. Management commands leave it empty, so their events
name no actor.
"""

import contextlib
from contextvars import ContextVar

_request = ContextVar("audit_request", default=None)
# Marks "no acting_as block"; None inside a block means the system.
_UNSET = object()
_user = ContextVar("audit_user", default=_UNSET)


@contextlib.contextmanager
def acting_as(user):
    """Attribute the events recorded inside the block to `user`, which may be None for the system."""
    token = _user.set(user)
    try:
        yield
    finally:
        _user.reset(token)


def current_user():
    """Return the user set by `acting_as` (None for the system), else the signed-in user of the request, else None."""
    user = _user.get()
    if user is not _UNSET:
        return user
    request = _request.get()
    if request is not None and request.user.is_authenticated:
        return request.user
    return None


class ActingUserMiddleware:
    """Make the request's user the actor of the events recorded while the request runs.

    The request is stored rather than its user, so a request that records nothing
    does not load the user from the session.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
