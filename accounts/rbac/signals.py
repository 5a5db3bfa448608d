"""Keeps authorization snapshots fresh and records role and app-access changes, wherever they are
made (Django admin, the admin API, the shell): both hang off the database changes themselves, and run
in the transaction that makes them."""

from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from accounts import audit
from accounts.models import SecurityEvent, User

from . import authz, roles

# Imported by AccountsConfig.ready(), once every model is loaded.
UserGrant, GroupGrant = get_user_obj_perms_model(), get_group_obj_perms_model()


def _role_events(user: User, group_names, granted: bool) -> None:
    action = SecurityEvent.Action.ROLE_GRANTED if granted else SecurityEvent.Action.ROLE_REVOKED
    for name in group_names:
        audit.record(action, success=True, user=user, resource=f"role:{name}", metadata={"role": name})


@receiver(m2m_changed, sender=User.groups.through)
def user_groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in {"post_add", "post_remove", "pre_clear", "post_clear"}:
        return
    if action == "pre_clear":
        # Remember what is about to go, so post_clear can record each revoked role.
        instance._cleared_members = list(instance.groups.all()) if not reverse else list(instance.user_set.all())
        return
    granted = action == "post_add"
    if not reverse:  # user.groups.add(group...)
        groups = Group.objects.filter(pk__in=pk_set) if pk_set else getattr(instance, "_cleared_members", [])
        _role_events(instance, [g.name for g in groups if g.name in roles.ROLES], granted)
        authz.invalidate([instance.pk])
    else:  # group.user_set.add(user...)
        users = User.objects.filter(pk__in=pk_set) if pk_set else getattr(instance, "_cleared_members", [])
        if instance.name in roles.ROLES:
            for user in users:
                _role_events(user, [instance.name], granted)
        authz.invalidate(user.pk for user in users)


@receiver(m2m_changed, sender=User.user_permissions.through)
def user_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action.startswith("post_"):
        authz.invalidate([instance.pk] if not reverse else list(pk_set or User.objects.values_list("pk", flat=True)))


@receiver(m2m_changed, sender=Group.permissions.through)
def group_permissions_changed(sender, instance, action, reverse, **kwargs):
    if action.startswith("post_"):
        users = User.objects.filter(groups=instance) if not reverse else User.objects.all()
        authz.invalidate(users.values_list("pk", flat=True))


# What a snapshot is made from, of the user's own fields (a sign-in saving last_login changes no access).
_ACCESS_FIELDS = frozenset({"is_superuser"})


@receiver(post_save, sender=User)
def user_saved(sender, instance, created, update_fields, **kwargs):
    if not created and (update_fields is None or _ACCESS_FIELDS & update_fields):
        authz.invalidate([instance.pk])


def _app_grant_event(instance, granted: bool) -> None:
    action = SecurityEvent.Action.APP_ACCESS_GRANTED if granted else SecurityEvent.Action.APP_ACCESS_REVOKED
    audit.record(
        action,
        success=True,
        user=instance.user,
        resource=f"app:{instance.content_object_id}",
        metadata={"app_id": str(instance.content_object_id), "permission": instance.permission.codename},
    )


@receiver(post_save, sender=UserGrant)
def app_grant_saved(sender, instance, created, **kwargs):
    if created:
        _app_grant_event(instance, granted=True)
    authz.invalidate([instance.user_id])


@receiver(post_delete, sender=UserGrant)
def app_grant_deleted(sender, instance, **kwargs):
    _app_grant_event(instance, granted=False)
    authz.invalidate([instance.user_id])


@receiver([post_save, post_delete], sender=GroupGrant)
def app_group_grant_changed(sender, instance, **kwargs):
    authz.invalidate(User.objects.filter(groups=instance.group_id).values_list("pk", flat=True))
