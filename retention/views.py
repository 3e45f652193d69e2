from django.http import HttpResponse


def _placeholder(request, *args, **kwargs):
    return HttpResponse("Not built yet.", status=501)


overview = month_detail = month_csv = _placeholder
