# UnMoGrowP web/consumer image.
#
# One image runs every process role; docker-compose.yml picks the command:
#   web       gunicorn (this file's CMD)
#   consumer  python manage.py consume_events
#   migrate   python manage.py migrate && python manage.py migrate_clickhouse
#             && python manage.py rebuild_report_aggregates --check
#
# No Docker engine runs on the development machines: this file is kept correct by reading.
# See deploy/README.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# builder: a virtualenv holding the pinned runtime requirements (never requirements-dev.txt).
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A compiler only for the odd package without a wheel for this platform; it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

# ---------------------------------------------------------------------------------------------
# runtime: the same base (so the venv's interpreter path matches), the venv and the app only.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=production \
    PATH="/opt/venv/bin:${PATH}"

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
# The code stays owned by root: the app user can read it but not rewrite it.
COPY . /app

# collectstatic writes /app/staticfiles (served by whitenoise). DJANGO_ENV=production refuses to
# boot without its required variables, so this one RUN line gets throwaway values.
# BUILD-ONLY PLACEHOLDERS: they exist only for this command, are not secrets, are never written
# into the image's environment, and nothing connects to the hosts they name. Real values come
# from the runtime environment (see docker-compose.yml).
RUN SECRET_KEY="build-only-collectstatic-placeholder-not-a-secret-never-used-at-runtime" \
    ALLOWED_HOSTS="localhost" \
    DATABASE_URL="postgres://build-only:build-only@localhost:5432/build-only" \
    CLICKHOUSE_URL="clickhouse://build-only:build-only@localhost:9000/build_only" \
    KAFKA_BOOTSTRAP_SERVERS="localhost:9092" \
    REDIS_URL="redis://localhost:6379/0" \
    JWT_SIGNING_KEY="build-only-jwt-placeholder-not-a-secret-never-used-at-runtime-00000" \
    SDK_SIGNING_KEY="build-only-sdk-placeholder-not-a-secret-never-used-at-runtime-00000" \
    PSEUDONYMIZATION_KEY="build-only-pseudonymization-placeholder-not-a-secret-000000000" \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app

EXPOSE 8000

# slim has no curl: probe with the standard library. Any non-2xx answer raises, so exit 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]

# gunicorn runs several worker processes, so the Prometheus client keeps its samples in a
# per-process directory that /metrics (django-prometheus) aggregates; it is emptied on each start.
# The directory is exported here only, so the consumer and migrate commands are not affected.
# gunicorn.conf.py: workers (WEB_CONCURRENCY) and threads (GUNICORN_THREADS), the access log (no client
# address, no query string) and its redaction.
CMD ["sh", "-c", "export PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc && rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn attribution.wsgi:application --config gunicorn.conf.py --bind 0.0.0.0:8000 --worker-tmp-dir /dev/shm"]
