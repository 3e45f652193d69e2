"""Import pages for CS admins: past runs, upload, column mapping, and a run's progress and outcome."""

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from common.csvimport import read_header

from .forms import MappingForm, UploadForm, upload_limit_message
from .importing import confirm_mapping, create_upload
from .importing.commands import describe_months
from .importing.runs import (
    column_spec,
    errors_with_file_columns,
    progress,
    run_path,
    suggested_columns,
    unmatched_columns,
)
from .models import ImportRun, ImportStatus

RUNS_PER_PAGE = 25


def import_admin(view):
    """Let signed-in users who may import in; send anonymous users to the login page and respond 403 to others."""
    return login_required(permission_required("retention.add_importrun", raise_exception=True)(view))


@require_safe
@import_admin
def import_list(request):
    runs = ImportRun.objects.select_related("created_by")
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "retention/imports/list.html", {"page": page})


@require_http_methods(["GET", "HEAD", "POST"])
@import_admin
def import_new(request):
    # Refuse an oversized upload before Django reads its body to disk. Like Django's own parser, read a
    # length that is not a number as no body.
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if request.method == "POST" and length > settings.IMPORT_MAX_UPLOAD_MB * 1_048_576 + 65_536:
        context = {"form": UploadForm(), "upload_error": upload_limit_message(length)}
        return render(request, "retention/imports/new.html", context, status=413)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        run = create_upload(
            kind=form.cleaned_data["kind"],
            uploaded_file=form.cleaned_data["file"],
            user=request.user,
            mapping=form.cleaned_data["mapping"],
        )
        if run.status == ImportStatus.MAPPING:
            return redirect("retention:import_mapping", pk=run.pk)
        return redirect("retention:import_detail", pk=run.pk)
    return render(request, "retention/imports/new.html", {"form": form})


@require_http_methods(["GET", "HEAD", "POST"])
@import_admin
def import_mapping(request, pk):
    run = get_object_or_404(ImportRun, pk=pk)
    if run.status != ImportStatus.MAPPING:
        return redirect("retention:import_detail", pk=run.pk)
    header = read_header(run_path(run))
    form = MappingForm(
        request.POST or None,
        spec=column_spec(run.kind),
        header=header,
        kind=run.kind,
        initial=MappingForm.initial_for(suggested_columns(run.kind, header, run.columns), run.end_date),
    )
    if request.method == "POST" and form.is_valid():
        confirm_mapping(run, columns=form.columns(), end_date=form.end_date(), save_as=form.cleaned_data["save_as"])
        return redirect("retention:import_detail", pk=run.pk)
    context = {
        "run": run,
        "form": form,
        "header": header,
        "unmatched": unmatched_columns(run.kind, header, run.columns),
    }
    return render(request, "retention/imports/mapping.html", context)


@require_safe
@import_admin
def import_detail(request, pk):
    run = get_object_or_404(ImportRun.objects.select_related("created_by"), pk=pk)
    context = {
        "run": run,
        "progress": progress(run),
        "errors": errors_with_file_columns(run.errors, run.columns),
        "errors_not_shown": run.error_count - len(run.errors),
        "months_replaced": describe_months(run.summary.get("months_replaced") or []),
    }
    return render(request, "retention/imports/detail.html", context)


@require_safe
@import_admin
def import_progress(request, pk):
    return JsonResponse(progress(get_object_or_404(ImportRun, pk=pk)))
