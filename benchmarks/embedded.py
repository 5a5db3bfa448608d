"""What the benchmarks share: the embedded default's environment for a data directory of their own
(no service from the shell leaks in), and the generated app that the page and report benchmarks
measure on (rows written by SQL, then attributed by the real engine)."""

import datetime as dt
import os
import time
from pathlib import Path

SERVICES = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL")


def environment(work: Path, **settings: str) -> dict:
    """This process's environment without the services, on the embedded store in ``work``, DEBUG off,
    quiet logs; ``settings`` on top."""
    env = {name: value for name, value in os.environ.items() if name not in SERVICES}
    env.update(
        {
            "VAR_DIR": str(work),
            "DJANGO_SETTINGS_MODULE": "attribution.settings",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            **settings,
        }
    )
    return env


def generated_app(*, owner_email: str, name: str, days: int, events: int, statements: list[str], tables: tuple):
    """An app of ``owner_email``'s with ``events`` generated events over the ``days`` up to now (the
    ``statements`` take ``app_id``, ``start``, ``now``, ``period_ms``, ``events`` and ``installs``: a
    tenth of the events), ``tables`` optimized, every install attributed by the engine. Runs in its own
    process (chdb: one process per data directory). Returns the app, the parameters and the seconds
    taken to generate and to attribute."""
    import django

    django.setup()
    from accounts.models import User
    from apps_registry import services
    from core import clickhouse
    from events.attribution_engine import services as engine

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(days=days)
    app = services.app_create(owner=User.objects.get(email=owner_email), name=name)
    params = {
        "app_id": app.id,
        "start": start,
        "now": now,
        "period_ms": days * 86_400_000 - 3_600_000,
        "events": events,
        "installs": max(1, events // 10),
    }
    started = time.perf_counter()
    for statement in statements:
        clickhouse.execute(statement, params, tag="bench_generate", timeout=7200)
    for table in tables:
        clickhouse.execute(f"OPTIMIZE TABLE {table} FINAL", tag="bench_optimize", timeout=7200)
    generated = time.perf_counter()
    engine.attribution_history(app=app, since=start - dt.timedelta(days=1), until=now + dt.timedelta(seconds=1))
    seconds = {
        "generate_seconds": round(generated - started, 1),
        "attribute_seconds": round(time.perf_counter() - generated, 1),
    }
    return app, params, seconds
