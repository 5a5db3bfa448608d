"""One error type for business failures, turned into clean JSON by the DRF exception handler; the
site's 400 and 404 handlers, which answer JSON under the API."""

import logging

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    def __init__(self, message: str, extra: dict | None = None, status_code: int = status.HTTP_400_BAD_REQUEST):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.status_code = status_code


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"error": exc.message, "extra": exc.extra}, status=exc.status_code)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response({"error": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"]), "extra": {}}
    else:
        response.data = {"error": "Invalid input.", "extra": {"fields": response.data}}
    return response


# The API's paths (ours, and Segment's tracking API under /v1/): its errors are JSON, whoever answers.
API_PREFIXES = ("/api/", "/v1/")


def page_not_found(request, exception):
    """handler404: a URL under /api/ (or /v1/, Segment's tracking API) that no route takes answers
    JSON, like every API error; other pages keep Django's. (With DEBUG, Django shows its own page instead.)"""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"error": "Not found.", "extra": {}}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    """handler400 (a request Django refuses before any view: a Host header not in ALLOWED_HOSTS, too
    many fields): under /api/ or /v1/ a JSON error that says why, like every API error; other pages
    keep Django's."""
    if request.path.startswith(API_PREFIXES):
        reason = (
            "The Host header names no host this server answers to."
            if isinstance(exception, DisallowedHost)
            else "The request could not be read."
        )
        return JsonResponse({"error": reason, "extra": {}}, status=400)
    return defaults.bad_request(request, exception)
