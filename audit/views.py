"""The audit log page for CS admins, and its CSV export."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_tables2 import RequestConfig

from . import selectors
from .exports import write_events
from .filters import AuditEventFilter
from .tables import AuditEventTable


def audit_reader(view):
    """Send anonymous visitors to the login page and respond 403 to users who may not read the audit log."""
    return login_required(permission_required("audit.view_auditevent", raise_exception=True)(view))


@require_safe
@audit_reader
def event_list(request):
    event_filter = AuditEventFilter(request.GET, queryset=selectors.events(), request=request)
    table = AuditEventTable(event_filter.qs)
    RequestConfig(request).configure(table)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": event_filter,
        "table": table,
        "csv_url": f"{reverse('audit:events_csv')}?{query.urlencode()}",
    }
    return render(request, "audit/event_list.html", context)


@require_safe
@audit_reader
def events_csv(request):
    event_filter = AuditEventFilter(request.GET, queryset=selectors.events(), request=request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    write_events(response, event_filter.qs.iterator(chunk_size=2000))
    return response
