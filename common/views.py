"""Error views shared by every app."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponseServerError
from django.template import loader

# Seconds a client is asked to wait before it retries while the database is unreachable.
RETRY_AFTER_SECONDS = 30


def server_error(request):
    """Render the error page of an uncaught exception: 503 when the database is unreachable, else 500.

    Django calls this inside its exception handler, so `sys.exception()` is the
    error being handled. The templates render without the request, because the
    context processors read the user from the database that may be down.
    """
    # Django logs the exception with the response's status after this view returns.
    error = sys.exception()
    if isinstance(error, (OperationalError, InterfaceError)):
        response = HttpResponseServerError(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())
