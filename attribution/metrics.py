"""The product's own Prometheus metrics (django-prometheus adds the HTTP and database ones), and the
/metrics endpoint that serves them all to the scraper and no one else."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Counter, Gauge, Histogram

CLICKHOUSE_QUERY_SECONDS = Histogram(
    "unmogrowp_clickhouse_query_seconds",
    "Time spent in ClickHouse queries and inserts, by query tag.",
    ["tag"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CLICKHOUSE_ERRORS = Counter(
    "unmogrowp_clickhouse_errors_total",
    "ClickHouse failures, by query tag and error type.",
    ["tag", "error"],
)
BUS_PUBLISHED = Counter(
    "unmogrowp_bus_published_total", "Messages made durable on the event bus.", ["topic", "backend"]
)
BUS_PUBLISH_FAILURES = Counter(
    "unmogrowp_bus_publish_failures_total", "Publishes the bus could not make durable.", ["topic", "backend"]
)
BUS_PUBLISH_SECONDS = Histogram(
    "unmogrowp_bus_publish_seconds",
    "Time from publish to confirmed durability (outbox commit or Kafka delivery report).",
    ["backend"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
HEALTH_CHECK_UP = Gauge(
    "unmogrowp_health_check_up", "1 when the backend answered the last readiness check, else 0.", ["backend"]
)


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
