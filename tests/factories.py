"""Test data made through the same services users go through."""

import factory
from django.contrib.auth.models import Group, Permission

from accounts import tokens
from accounts.models import User
from accounts.rbac import roles, services
from apps_registry import services as app_services
from apps_registry.models import App

PASSWORD = "correct horse battery staple"


def role_group(name: str) -> Group:
    """The role's group, recreated as the data migration makes it when a transactional test's flush
    removed it (flushes keep permissions, which post_migrate recreates, but not migration data)."""
    group, created = Group.objects.get_or_create(name=name)
    if created:
        codenames = [roles.PERMISSIONS[seed] for seed in roles.ROLE_PERMISSIONS[name]]
        group.permissions.set(Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames))
    return group


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name")
    password = None  # unusable password: no Argon2 cost unless a test asks for one

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return User.objects.create_user(*args, **kwargs)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(role_group(extracted))


class AppFactory(factory.django.DjangoModelFactory):
    """Apps made as users make them (``app_create``): with their first attribution settings version."""

    class Meta:
        model = App

    name = factory.Sequence(lambda n: f"App {n}")
    owner = factory.SubFactory(UserFactory, role="admin")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return app_services.app_create(**kwargs)


def grant(user: User, app: App, *permissions: str) -> None:
    services.app_access_grant(user=user, app=app, permissions=list(permissions))


def bearer(user: User) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {tokens.issue(user)['access']}"}
