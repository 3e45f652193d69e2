import datetime

import factory

from audit.models import AuditAction, AuditEvent, ObjectType

START = datetime.datetime(2024, 6, 1, 9, tzinfo=datetime.UTC)


class AuditEventFactory(factory.django.DjangoModelFactory):
    """A stored event; the recording tests make theirs through the real services instead."""

    class Meta:
        model = AuditEvent

    when = factory.Sequence(
        lambda n: datetime.datetime(2024, 6, 1, 9, tzinfo=datetime.UTC) + datetime.timedelta(hours=n)
    )
    actor = None
    actor_name = factory.LazyAttribute(lambda event: event.actor.get_username() if event.actor else "system")
    action = AuditAction.RATE_CHANGED
    object_type = ObjectType.COST_RATE
    object_id = "1"
    label = factory.Sequence(lambda n: f"Role {n} FY2026-Q1")
    details = factory.LazyFunction(lambda: {"changes": {"ote": ["100.00", "120.00"]}})
