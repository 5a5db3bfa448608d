import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_email_is_the_login_and_is_normalised():
    user = get_user_model().objects.create_user(email="Ada@Example.COM", password="correct horse battery")
    assert user.email == "ada@example.com"
    assert get_user_model().USERNAME_FIELD == "email"
    assert user.check_password("correct horse battery")


def test_passwords_are_stored_with_argon2id():
    user = get_user_model().objects.create_user(email="a@example.com", password="correct horse battery")
    assert user.password.startswith("argon2$argon2id$")


def test_create_superuser_grants_admin_access():
    admin = get_user_model().objects.create_superuser(email="root@example.com", password="correct horse battery")
    assert admin.is_staff and admin.is_superuser


def test_a_user_needs_an_email():
    with pytest.raises(ValueError, match="email"):
        get_user_model().objects.create_user(email="", password="x")
