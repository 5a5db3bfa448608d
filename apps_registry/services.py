from django.db import transaction

from accounts.models import User

from .models import App


@transaction.atomic
def app_create(*, owner: User, name: str) -> App:
    return App.objects.create(owner=owner, name=name.strip())


def app_update(*, app: App, name: str | None = None) -> App:
    if name is not None:
        app.name = name.strip()
    app.save()
    return app
