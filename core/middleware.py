"""Middleware of the whole site."""

import uuid
from functools import wraps

from django.conf import settings
from django.http import JsonResponse

from core import logs


def request_id(get_response):
    """Each request gets an id of its own: in every log line written while serving it (core.logs), in
    the bus rows it publishes (so in the consumer's and the engine's lines about them), and in the
    answer's X-Request-ID header, for a client or a proxy to quote. An id sent by the client is not
    taken: it would put whatever the client chose into our logs."""

    def middleware(request):
        request.request_id = uuid.uuid4().hex
        logs.request_id.set(request.request_id)
        response = get_response(request)
        response["X-Request-ID"] = request.request_id
        return response

    return middleware


def content_length_checked(get_response):
    """A request whose Content-Length is not a whole number is refused with 400 before anything reads
    it: django-prometheus's middleware and Django's request.body call int() on it and would answer
    500. gunicorn refuses such requests itself; the development server passes them on."""

    def middleware(request):
        length = request.META.get("CONTENT_LENGTH")
        if length and not (length.isascii() and length.isdigit()):
            return JsonResponse({"error": "Content-Length must be a whole number of bytes."}, status=400)
        return get_response(request)

    return middleware


def content_security_policy(get_response):
    """Every response carries settings.CONTENT_SECURITY_POLICY, unless its view set one or is
    ``csp_exempt``: the pages run only the site's own script files (data reaches them through
    json_script, never inline code)."""

    def middleware(request):
        response = get_response(request)
        if not getattr(response, "csp_exempt", False):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

    return middleware


def csp_exempt(view):
    """A view whose responses carry no Content-Security-Policy of this site (a page standing in for
    someone else's, in the tests), as Django's xframe_options_exempt does for X-Frame-Options."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.csp_exempt = True
        return response

    return wrapper
