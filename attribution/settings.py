"""All configuration, read from environment variables in this one place.

With no variables set, the embedded default runs: SQLite and chdb under ``var/``, the outbox bus and a
local-memory cache. ``DJANGO_ENV=production`` turns on the hardened profile, which refuses to boot
while a required variable is missing (see ``PRODUCTION_REQUIRED``).
"""

import tomllib
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from attribution.development_keys import development_keys

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

PRODUCTION_REQUIRED = (
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CLICKHOUSE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "REDIS_URL",
    "JWT_SIGNING_KEY",
    "SDK_SIGNING_KEY",
    "PSEUDONYMIZATION_KEY",
)
if PRODUCTION:
    missing = [name for name in PRODUCTION_REQUIRED if not env.str(name, default="")]
    if missing:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs these environment variables: "
            + ", ".join(missing)
            + ". See README.md, section 'Production configuration'."
        )


# Everything the embedded default writes (SQLite file, chdb data directory, development keys) lives here.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def strong_secret(name: str, value: str) -> str:
    """``value``, unless production would run on a development key or a guessable one."""
    if PRODUCTION and (len(value) < 50 or value.startswith("django-insecure")):
        raise ImproperlyConfigured(
            f"{name} is the development default or too weak for production: set at least 50 random characters, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'."
        )
    return value


def secret_setting(name: str) -> str:
    """A key from the environment. Without one, development uses the instance's own random key, made
    on its first run and kept in VAR_DIR (attribution/development_keys.py); production refuses to boot
    (PRODUCTION_REQUIRED)."""
    value = env.str(name, default="")
    if value or PRODUCTION:
        return strong_secret(name, value)
    return development_keys(VAR_DIR)[name]


SECRET_KEY = secret_setting("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "guardian",
    "auditlog",
    "attribution.apps.AttributionConfig",
    "core",
    "accounts",
    "apps_registry",
    "events",
    "dashboard",
]

MIDDLEWARE = [
    "core.middleware.request_id",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.content_length_checked",
    "core.middleware.content_security_policy",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "accounts.context.RequestContextMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "attribution.urls"
WSGI_APPLICATION = "attribution.wsgi.application"
ASGI_APPLICATION = "attribution.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- OLTP ---------------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web threads read while the outbox drain writes; the timeout rides out short locks.
    # Checkpoints: the web process runs them in a thread of its own (core.checkpoints), every
    # SQLITE_CHECKPOINT_SECONDS; wal_autocheckpoint=2000 pages is the safety net, well above what a
    # tenth of a second of load appends. Left to the commit that crosses it, a checkpoint ran before
    # that request answered.
    # secure_delete=FAST (Debian builds SQLite with it ON): deleted rows are still wiped from their
    # pages, but freed overflow pages, where a stored outbox message's payload mostly lies, are not
    # zeroed: ON made every message the consumer deletes cost a payload's worth of writes, and the
    # payloads, privacy already applied, are the very rows stored in ClickHouse.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=2000; "
            "PRAGMA secure_delete=FAST;"
        ),
    }
    # A file (not in-memory) test database, so tests can run a second process against it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- OLAP ---------------------------------------------------------------------------------------
# Unset: embedded chdb with its data under VAR_DIR. Set: clickhouse://user:password@host:9000/database
CLICKHOUSE_URL = env.str("CLICKHOUSE_URL", default="")
CLICKHOUSE_EMBEDDED_PATH = VAR_DIR / "clickhouse"
CLICKHOUSE_DATABASE = env.str("CLICKHOUSE_DATABASE", default="unmogrowp")
CLICKHOUSE_QUERY_TIMEOUT_SECONDS = env.float("CLICKHOUSE_QUERY_TIMEOUT_SECONDS", default=30.0)
CLICKHOUSE_CONNECT_TIMEOUT_SECONDS = env.float("CLICKHOUSE_CONNECT_TIMEOUT_SECONDS", default=5.0)
# Reports read the pre-aggregates (dashboard/aggregates.py); off, they read raw data alone (the tests
# compare both ways).
REPORT_AGGREGATES = env.bool("REPORT_AGGREGATES", default=True)
# How often the attribution side's pre-aggregate (dashboard/attributed_daily.py) of an app that changed
# is rewritten; between refreshes the reports read what is newer from the raw tables.
REPORT_REFRESH_INTERVAL_SECONDS = env.float("REPORT_REFRESH_INTERVAL_SECONDS", default=300.0)
# A refresh writes an app's conversions in spans of whole days holding at most this many, so that its
# memory follows the span rather than the app's history (ClickHouse's memory limit).
REPORT_REFRESH_SPAN_CONVERSIONS = env.int("REPORT_REFRESH_SPAN_CONVERSIONS", default=500_000)
# A write noted this long before a refresh started may still have been unseen by it: longer than any
# one block of an INSERT takes to be stored.
REPORT_CHANGES_MARGIN_SECONDS = env.float("REPORT_CHANGES_MARGIN_SECONDS", default=60.0)
# A cluster name from the servers' remote_servers: migrations then create Replicated tables and
# Distributed tables ON CLUSTER (core/clickhouse/topology.py). Empty: one node.
CLICKHOUSE_CLUSTER = env.str("CLICKHOUSE_CLUSTER", default="")
# Where manage.py backup_stores writes backups (and restore_stores reads them). ClickHouse writes its
# part itself, so with a server this path must be the same on the server, within its
# backups.allowed_path (a shared volume: docs/operations.md, Backup and restore).
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
# Periodic ClickHouse writers (attribution/background.py) run inside the web process by default only
# in the embedded mode, where that process owns chdb; with a server they run as management commands.
RUN_BACKGROUND_JOBS = env.bool("RUN_BACKGROUND_JOBS", default=not CLICKHOUSE_URL)
SQLITE_CHECKPOINT_SECONDS = env.float("SQLITE_CHECKPOINT_SECONDS", default=0.1)

# --- Attribution engine -------------------------------------------------------------------------
# The continuous run attributes conversions once they are this old (their touches arrive on another
# topic), every ATTRIBUTION_INTERVAL_SECONDS; history runs may take long, hence their own timeout.
ATTRIBUTION_SETTLE_SECONDS = env.int("ATTRIBUTION_SETTLE_SECONDS", default=60)
ATTRIBUTION_INTERVAL_SECONDS = env.float("ATTRIBUTION_INTERVAL_SECONDS", default=60.0)
ATTRIBUTION_QUERY_TIMEOUT_SECONDS = env.float("ATTRIBUTION_QUERY_TIMEOUT_SECONDS", default=600.0)
# ClickHouse's max_threads for the engine's statements (0: the server's default). In chdb on a small
# machine, more streams than cores keep every core busy while the window functions, the join and the
# grouping wait on one another (BENCHMARKS.md: the engine).
ATTRIBUTION_MAX_THREADS = env.int("ATTRIBUTION_MAX_THREADS", default=0 if CLICKHOUSE_URL else 8)

# --- Event bus ----------------------------------------------------------------------------------
# Unset: the durable outbox table in the OLTP database. Set: Kafka (comma-separated host:port list).
KAFKA_BOOTSTRAP_SERVERS = env.str("KAFKA_BOOTSTRAP_SERVERS", default="")
KAFKA_DELIVERY_TIMEOUT_SECONDS = env.float("KAFKA_DELIVERY_TIMEOUT_SECONDS", default=5.0)
# The consumers' Kafka group of a topic is "<prefix>.<topic>"; another prefix is another set of groups,
# each reading the topics from their start (a second installation on the same brokers, a test).
KAFKA_CONSUMER_GROUP_PREFIX = env.str("KAFKA_CONSUMER_GROUP_PREFIX", default="ump-clickhouse-writer")
OUTBOX_LEASE_SECONDS = env.float("OUTBOX_LEASE_SECONDS", default=60.0)

# --- Cache --------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 1.0,
                "SOCKET_TIMEOUT": 1.0,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ---------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: anonymous visitors hold no object permissions
GUARDIAN_USER_OBJ_PERMS_MODEL = "apps_registry.AppUserObjectPermission"
GUARDIAN_GROUP_OBJ_PERMS_MODEL = "apps_registry.AppGroupObjectPermission"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Set by `make run` on first start when unset; otherwise a random password is printed once.
DEMO_ADMIN_EMAIL = env.str("DEMO_ADMIN_EMAIL", default="admin@example.com")

# JWT: its own signing key (not SECRET_KEY), a pinned algorithm, audience and issuer.
JWT_SIGNING_KEY = secret_setting("JWT_SIGNING_KEY")
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUDIENCE": "unmogrowp-api",
    "ISSUER": "unmogrowp",
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TOKEN_SECONDS", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_TOKEN_SECONDS", default=7 * 24 * 3600)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "userId",
    "CHECK_USER_IS_ACTIVE": True,
}

# SDK keys: how long a verified key is cached (revocation clears it at once; see apps_registry/keys.py).
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=5)
# A process remembers a tracking link this long before asking the shared cache again: a link paused
# or edited elsewhere redirects its clicks the old way for at most this long (the editing process
# forgets it at once).
LINK_CACHE_SECONDS = env.float("LINK_CACHE_SECONDS", default=5.0)
# Master key from which each app's request-signing secret is derived (never stored per app).
SDK_SIGNING_KEY = secret_setting("SDK_SIGNING_KEY")
# Where tracking links point (click and impression URLs handed to ad networks).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Privacy at the edge (events/privacy.py): IP truncation and the key for pseudonymising identifiers.
PRIVACY_IPV4_PREFIX_BITS = env.int("PRIVACY_IPV4_PREFIX_BITS", default=24)
PRIVACY_IPV6_PREFIX_BITS = env.int("PRIVACY_IPV6_PREFIX_BITS", default=48)
PSEUDONYMIZATION_KEY = secret_setting("PSEUDONYMIZATION_KEY")
PSEUDONYMIZATION_KEY_BYTES = PSEUDONYMIZATION_KEY.encode()

# Data subjects (events/subjects): how long a process trusts its copy of an app's opt-out list, and
# how long after an erasure the consumer still drops that subject's rows received before it (rows
# already on the bus: Kafka keeps messages for days, and a lagging consumer reaches them late).
OPT_OUT_CACHE_SECONDS = env.float("OPT_OUT_CACHE_SECONDS", default=5.0)
ERASURE_TOMBSTONE_DAYS = env.int("ERASURE_TOMBSTONE_DAYS", default=14)
# Retention per data class, in days (events/personal_data.py lists the tables of each; manage.py
# apply_retention and the web process's daily job drop what is older). The seed: events 2 years,
# security logs 1 year.
RETENTION_DAYS = {
    "raw_events": env.int("RETENTION_RAW_EVENTS_DAYS", default=730),
    "touchpoints": env.int("RETENTION_TOUCHPOINTS_DAYS", default=730),
    "attributions": env.int("RETENTION_ATTRIBUTIONS_DAYS", default=730),
    "security_log": env.int("RETENTION_SECURITY_LOG_DAYS", default=365),
    "dead_letters": env.int("RETENTION_DEAD_LETTERS_DAYS", default=90),
}
if min(RETENTION_DAYS.values()) < 1:
    raise ImproperlyConfigured("RETENTION_*_DAYS must be at least 1.")

# Ingestion limits (events/views.py).
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=1_048_576)
INGEST_MAX_DECOMPRESSED_BYTES = env.int("INGEST_MAX_DECOMPRESSED_BYTES", default=5 * 1_048_576)
INGEST_MAX_EVENTS_PER_BATCH = env.int("INGEST_MAX_EVENTS_PER_BATCH", default=1000)
INGEST_MAX_PAST_DAYS = env.int("INGEST_MAX_PAST_DAYS", default=30)
INGEST_MAX_FUTURE_SECONDS = env.int("INGEST_MAX_FUTURE_SECONDS", default=600)
INGEST_SIGNATURE_TOLERANCE_SECONDS = 300
INGEST_RATE_LIMIT_PER_KEY = env.int("INGEST_RATE_LIMIT_PER_KEY", default=600_000)  # requests per minute
# /metrics answers this machine (loopback, no proxy in between) and whoever sends
# `Authorization: Bearer <METRICS_TOKEN>`; unset, only this machine (attribution/health.py).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN:
    strong_secret("METRICS_TOKEN", METRICS_TOKEN)
# Port and address of the consumer's own /metrics (manage.py consume_events); port 0 turns it off. It
# has no token check: bind it where only the scraper can reach it.
CONSUMER_METRICS_PORT = env.int("METRICS_PORT", default=9101)
CONSUMER_METRICS_ADDRESS = env.str("METRICS_ADDRESS", default="127.0.0.1")

# Registration: closed (admins create users), invite (with an invitation token) or open.
REGISTRATION_POLICY = env.str("REGISTRATION_POLICY", default="closed")
if REGISTRATION_POLICY not in {"closed", "invite", "open"}:
    raise ImproperlyConfigured("REGISTRATION_POLICY must be closed, invite or open.")

# Brute-force protection (atomic counters in the cache: Redis in production).
LOGIN_MAX_FAILURES_PER_ACCOUNT = env.int("LOGIN_MAX_FAILURES_PER_ACCOUNT", default=5)
LOGIN_MAX_FAILURES_PER_IP = env.int("LOGIN_MAX_FAILURES_PER_IP", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# API rate limits: requests per minute per signed-in user, and per client IP.
API_RATE_LIMIT_PER_USER = env.int("API_RATE_LIMIT_PER_USER", default=600)
API_RATE_LIMIT_PER_IP = env.int("API_RATE_LIMIT_PER_IP", default=300)
# Hops of trusted reverse proxies in front of the app (0: use the socket address).
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
# Security alerts: this many failed logins (per IP or per account) or denials (per user) in a minute.
SECURITY_ALERT_BURST = env.int("SECURITY_ALERT_BURST", default=10)
# How long an authorization snapshot (roles, permissions, app grants) is cached. A change bumps the user's
# access version in the database (accounts/authz.py), so it applies to the next request of every process.
AUTHZ_CACHE_SECONDS = env.int("AUTHZ_CACHE_SECONDS", default=30)

# --- Web pages ----------------------------------------------------------------------------------
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "app-picker"
# Only the site's own scripts and styles: no inline script (pages hand data over with json_script)
# and no style attribute (charts draw their tooltips on the canvas, static/js/charts.js).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

# --- HTTP hardening (production) ------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes and scrapers talk plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Development serves files straight from the app directories; production from collectstatic's output,
# where WhiteNoise's storage adds a content hash to every name (pages link those: cached a year,
# immutable) and gzip and Brotli copies, which it serves to clients that accept them. Names without the
# hash (the web SDK's /static/sdk/ump.js, which customers' sites load) are cached WHITENOISE_MAX_AGE.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_MAX_AGE = env.int("STATIC_MAX_AGE_SECONDS", default=0 if DEBUG else 3600)

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",
}

# The API contract at GET /api/schema/ (core/openapi.py, events/ingestion/openapi.py). OpenAPI 3.1
# because its schemas are JSON Schema 2020-12, which is what msgspec generates for the ingestion contract.
SPECTACULAR_SETTINGS = {
    "TITLE": "UnMoGrowP API",
    "VERSION": tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"],
    "DESCRIPTION": (
        "Self-hosted marketing attribution. SDKs and ad networks send data to the ingestion endpoints "
        "(`/api/events`, `/api/touchpoints`: an app API key in `X-Api-Key`, optionally HMAC-signed; "
        "`/c/{code}`, `/i/{code}`: public tracking URLs). People and tools manage apps and read reports "
        "under `/api/auth`, `/api/admin`, `/api/apps`, `/api/dashboard` and `/api/analytics` with a JWT "
        'bearer token from `POST /api/auth/login`. Every API error is JSON `{"error": "...", "extra": {...}}`.'
    ),
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Public, like AppsFlyer's and Adjust's docs: it documents shapes, no data. Tokens are not read.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.rbac.roles.ROLES",
        "SubjectRequestStatusEnum": "events.models.SubjectRequest.Status",
        "AppStatusEnum": "apps_registry.models.App.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.drop_unreachable_defaults",
        "events.ingestion.openapi.add_ingestion_endpoints",
    ],
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# json: one JSON object per line, for log aggregation (production's default); plain: readable lines.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
# Every line goes through one handler, which drops query strings and cuts keys and tokens
# (core/logs.py) and adds the request's id. Django's own handlers for "django" and its children (the
# development server's request lines, django.server) would print them as sent: without them, they
# reach it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logs.RedactingFilter"}, "request_id": {"()": "core.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact", "request_id"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": []},
        "django.db.backends": {"level": "WARNING"},
    },
}
