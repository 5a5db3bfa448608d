"""The operations endpoints: liveness, readiness (every configured backend checked, the one that is
down named), and the Prometheus metrics for the scraper and no one else."""

import hmac
import ipaddress
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from core import clickhouse
from core.metrics import HEALTH_CHECK_UP
from events.bus import get_bus

_CHECK_TIMEOUT_SECONDS = 2.0


def _oltp() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _olap() -> str:
    backend = clickhouse.get_backend()
    clickhouse.execute("SELECT 1", tag="health", timeout=_CHECK_TIMEOUT_SECONDS)
    return backend.name


def _bus() -> str:
    bus = get_bus()
    bus.check()
    return bus.name


def _cache() -> str:
    cache = caches["default"]
    probe = "health:probe"
    cache.set(probe, "1", timeout=10)
    if cache.get(probe) != "1":
        raise RuntimeError("cache did not return the value just written")
    return type(cache).__name__


CHECKS: dict[str, Callable[[], str]] = {"oltp": _oltp, "olap": _olap, "bus": _bus, "cache": _cache}


def _run(check: Callable[[], str]) -> dict:
    started = time.perf_counter()
    try:
        backend = check()
    except Exception as error:  # a readiness probe reports every failure instead of raising it
        return {
            "ok": False,
            "error": f"{type(error).__name__}: {str(error)[:300]}",
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return {"ok": True, "backend": backend, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    results = {name: _run(check) for name, check in CHECKS.items()}
    for name, result in results.items():
        HEALTH_CHECK_UP.labels(name).set(1 if result["ok"] else 0)
    down = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "unavailable" if down else "ok", "down": down, "checks": results}
    return JsonResponse(body, status=503 if down else 200)


# Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever the socket says.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def _from_this_machine(request: HttpRequest) -> bool:
    """The socket's own address is loopback and no proxy relayed the request. X-Forwarded-For is never
    believed here: a proxy on this machine would make every outside request look local."""
    if any(header in request.META for header in _PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _bears_the_token(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@require_GET
def scrape(request: HttpRequest) -> HttpResponse:
    """GET /metrics: security counters and traffic figures, for the scraper only (from this machine, or
    with `Authorization: Bearer <METRICS_TOKEN>`)."""
    if not (_from_this_machine(request) or _bears_the_token(request)):
        return HttpResponseForbidden(
            "Metrics are served to this machine's loopback address or with Authorization: Bearer <METRICS_TOKEN>.",
            content_type="text/plain",
        )
    return ExportToDjangoView(request)
