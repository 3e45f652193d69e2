import factory
from django.contrib.auth.models import Group

from accounts.models import Account, Segment, Subscription, User
from accounts.roles import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("pass-for-tests-1")

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if create and extracted:
            user.groups.add(Group.objects.get(name=extracted))


class AccountFactory(factory.django.DjangoModelFactory):
    """A top-level account; pass `parent` for a child and keep `ultimate_parent` in step."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    external_id = factory.Sequence(lambda n: f"ACC-{n:04d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    segment = Segment.SMB

    @factory.post_generation
    def set_ultimate_parent(account, create, extracted, **kwargs):
        top = account
        while top.parent_id:
            top = top.parent
        account.ultimate_parent = top
        if create:
            account.save(update_fields=["ultimate_parent"])


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    external_id = factory.Sequence(lambda n: f"SUB-{n:04d}")
    account = factory.SubFactory(AccountFactory)


__all__ = ["AccountFactory", "Role", "SubscriptionFactory", "UserFactory"]
