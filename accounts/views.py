from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render


@login_required
def home(request):
    return redirect("retention:overview")


def about(request):
    return render(request, "about.html")
