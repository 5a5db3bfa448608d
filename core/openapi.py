"""What every API shares in the OpenAPI contract served at GET /api/schema/ (drf-spectacular): the
error shape and ``errors(...)`` for ``extend_schema``, the JWT scheme, the schema class DRF views use.

The plain-Django ingestion endpoints document themselves (events/ingestion/openapi.py).
"""

import inspect
import re

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}}

# --- DRF views ------------------------------------------------------------------------------------


class ApplicationErrorSerializer(serializers.Serializer):
    """The JSON of every API error (attribution/errors.py)."""

    error = serializers.CharField(help_text="What went wrong, in words for a person.")
    extra = serializers.DictField(
        help_text='Details: for invalid input {"fields": {"<field>": ["<problem>", ...]}} or {"<field>": [...]}.'
    )


ERROR_MEANINGS = {
    400: "Invalid input; `extra` names each field's problems.",
    401: "Missing, expired, revoked or malformed bearer token.",
    403: "Signed in, but without the role or permission this needs.",
    404: "No such object, or one the caller may not see (both answer the same).",
    409: "Conflicts with what exists already.",
    429: "Rate limit exceeded; retry after `Retry-After` seconds.",
}


def errors(*codes: int, **meanings: str) -> dict[int, OpenApiResponse]:
    """Error responses for ``extend_schema(responses=...)``; ``meanings`` overrides a code's text
    (keyword ``e401="..."``)."""
    return {
        code: OpenApiResponse(ApplicationErrorSerializer, description=meanings.get(f"e{code}", ERROR_MEANINGS[code]))
        for code in codes
    }


class JWTScheme(SimpleJWTScheme):
    """Our JWT authentication (simplejwt plus the revoked-family check) is a bearer JWT like simplejwt's."""

    target_class = "accounts.authentication.JWTAuthentication"


def handler_fits_route(handler, route_parameters: set[str]) -> bool:
    """Whether Django can call this bound handler with the route's keyword arguments."""
    parameters = list(inspect.signature(handler).parameters.values())[1:]  # after ``request``
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return {p.name for p in parameters if p.default is p.empty and p.kind is not p.VAR_KEYWORD} <= route_parameters
    return {p.name for p in parameters if p.default is p.empty} <= route_parameters <= {p.name for p in parameters}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, plus two facts every DRF view shares: a view class mounted on several routes
    documents on each only the methods that route can call, and a throttled view can answer 429
    with Retry-After (accounts/throttling.py)."""

    def is_excluded(self) -> bool:
        handler = getattr(self.view, self.method.lower(), None)
        route_parameters = set(re.findall(r"{(\w+)}", self.path))
        return super().is_excluded() or (handler is not None and not handler_fits_route(handler, route_parameters))

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self.view.get_throttles():
            too_many = operation["responses"].setdefault(
                "429",
                {
                    "description": ERROR_MEANINGS[429],
                    "content": {
                        "application/json": {
                            "schema": self.resolve_serializer(ApplicationErrorSerializer, "response").ref
                        }
                    },
                },
            )
            too_many.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
        return operation


def drop_unreachable_defaults(result, generator, request, public):
    """drf-spectacular postprocessing hook. ``CharField(required=False, default="")`` documents
    ``default: ""`` beside ``minLength: 1``: a default its own schema refuses (OpenAPI validators
    reject the document). The default is server-side (an absent field), so the field stays optional
    and the contradiction goes."""

    def walk(node):
        if isinstance(node, dict):
            if node.get("default") == "" and node.get("minLength", 0) > 0:
                del node["default"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
