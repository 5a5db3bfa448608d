from django.apps import AppConfig


class AttributionConfig(AppConfig):
    """The project package as an app: system checks, ClickHouse commands, health views."""

    name = "attribution"
    verbose_name = "UnMoGrowP platform"

    def ready(self):
        from . import checks  # noqa: F401 - registers the attribution.* system checks
