from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared platform: ClickHouse, errors, Prometheus metrics, counters, the jobs that run
    periodically or on a command's behalf. Imports no feature app (tests/test_layering.py)."""

    name = "core"
    verbose_name = "Platform"
