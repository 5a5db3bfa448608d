"""System checks (attribution.E00x): misconfiguration reported at boot, each with the fix."""

import os
import re
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, register

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


@register()
def check_clickhouse(app_configs, **kwargs):
    errors = []
    if settings.CLICKHOUSE_URL:
        from core.clickhouse.server import parse_url

        try:
            parse_url(settings.CLICKHOUSE_URL)
        except ValueError as error:
            errors.append(
                Error(
                    f"CLICKHOUSE_URL is not usable: {error}.",
                    hint="Set CLICKHOUSE_URL=clickhouse://user:password@host:9000/database, or unset it "
                    "to use the embedded chdb engine.",
                    id="attribution.E001",
                )
            )
    else:
        var_dir = settings.VAR_DIR
        existing = next((p for p in (var_dir, *var_dir.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            errors.append(
                Error(
                    f"The embedded ClickHouse data directory {settings.CLICKHOUSE_EMBEDDED_PATH} cannot be "
                    "created or written.",
                    hint="Set VAR_DIR to a writable directory, or set CLICKHOUSE_URL to use a server.",
                    id="attribution.E002",
                )
            )
    if not _IDENTIFIER.match(settings.CLICKHOUSE_DATABASE):
        errors.append(
            Error(
                f"CLICKHOUSE_DATABASE={settings.CLICKHOUSE_DATABASE!r} is not a plain identifier.",
                hint="Set CLICKHOUSE_DATABASE to letters, digits and underscores only, e.g. unmogrowp.",
                id="attribution.E003",
            )
        )
    if settings.CLICKHOUSE_CLUSTER and (
        not settings.CLICKHOUSE_URL or not _IDENTIFIER.match(settings.CLICKHOUSE_CLUSTER)
    ):
        errors.append(
            Error(
                "CLICKHOUSE_CLUSTER needs a ClickHouse server (CLICKHOUSE_URL) and a plain cluster name.",
                hint="Set CLICKHOUSE_URL, and CLICKHOUSE_CLUSTER to a cluster of its remote_servers, or unset it.",
                id="attribution.E007",
            )
        )
    return errors


@register()
def check_bus_and_cache(app_configs, **kwargs):
    errors = []
    servers = [s.strip() for s in settings.KAFKA_BOOTSTRAP_SERVERS.split(",") if s.strip()]
    bad = [server for server in servers if not _HOST_PORT.match(server)]
    if bad:
        errors.append(
            Error(
                f"KAFKA_BOOTSTRAP_SERVERS has entries that are not host:port: {', '.join(bad)}.",
                hint="Set KAFKA_BOOTSTRAP_SERVERS=broker1:9092,broker2:9092, or unset it to use the outbox.",
                id="attribution.E004",
            )
        )
    if settings.REDIS_URL and urlparse(settings.REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
        errors.append(
            Error(
                "REDIS_URL must start with redis://, rediss:// or unix://.",
                hint="Set REDIS_URL=redis://host:6379/0, or unset it to use the local-memory cache.",
                id="attribution.E005",
            )
        )
    if settings.PRODUCTION and settings.DEBUG:
        errors.append(
            Error(
                "DEBUG is on with DJANGO_ENV=production: stack traces and settings would reach clients.",
                hint="Unset DEBUG (it defaults to off in production).",
                id="attribution.E006",
            )
        )
    return errors
