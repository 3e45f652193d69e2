from django.conf import settings


def demo_credit(request):
    """Tell templates whether the footer credits the demo's dataset."""
    return {"show_demo_credit": settings.SHOW_DEMO_CREDIT}
