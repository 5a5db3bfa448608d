"""What every DRF API of the product shares: the one way to parse input."""

from rest_framework import serializers


def parsed(serializer_class: type[serializers.Serializer], data, **kwargs) -> dict:
    """The validated data of ``data`` (request body or query parameters); a 400 naming each field's
    problems otherwise (core.errors turns the ValidationError into the error JSON)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
