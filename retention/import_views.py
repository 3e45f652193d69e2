from django.http import HttpResponse


def _placeholder(request, *args, **kwargs):
    return HttpResponse("Not built yet.", status=501)


import_list = import_new = import_detail = import_mapping = import_progress = _placeholder
