"""The product's own Prometheus metrics, every one of them defined here (django-prometheus adds the
HTTP and database ones). /metrics serves them (attribution/health.py)."""

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

# --- periodic jobs (core.periodic) ----------------------------------------------------------------
JOB_FAILURES = Counter("unmogrowp_job_failures_total", "Steps of a periodic job that raised.", ["job"])
JOB_LAST_SUCCESS = Gauge(
    "unmogrowp_job_last_success_timestamp_seconds", "When a periodic job's last step succeeded.", ["job"]
)

# --- consumer (events.consumer) -------------------------------------------------------------------
CONSUMER_ROWS_STORED = Counter("unmogrowp_consumer_rows_stored_total", "Rows inserted into ClickHouse.", ["topic"])
CONSUMER_ROWS_DROPPED = Counter(
    "unmogrowp_consumer_rows_dropped_total",
    "Rows not stored because their subject opted out or was erased after they were received.",
    ["topic", "reason"],
)
CONSUMER_DUPLICATES = Counter("unmogrowp_consumer_duplicates_total", "Messages skipped as already stored.", ["topic"])
DEAD_LETTERED = Counter("unmogrowp_dead_letters_total", "Messages dead-lettered, by topic.", ["topic"])
CONSUMER_LAG = Gauge("unmogrowp_consumer_lag_messages", "Messages on the bus not yet stored.", ["topic"])
CONSUMER_BATCH_SECONDS = Gauge("unmogrowp_consumer_last_batch_seconds", "Duration of the last batch.", ["topic"])

# --- tracking links (events.ingestion.touchpoints) ---------------------------------------------------
LINK_SUB_PARAMS_LEFT_OUT = Counter(
    "unmogrowp_link_sub_params_left_out_total",
    "Touchpoints recorded without their link's sub_params, which are stored malformed (edit the link to fix).",
)

# --- sign-in and API protection (accounts) -----------------------------------------------------------
RATE_LIMITED = Counter("unmogrowp_rate_limited_total", "API requests refused by the rate limit.", ["scope"])
RATE_LIMIT_BYPASSED = Counter(
    "unmogrowp_rate_limit_unavailable_total", "API requests let through because the rate-limit store was down."
)

# --- security log (accounts.audit) -------------------------------------------------------------------
SECURITY_EVENTS = Counter("unmogrowp_security_events_total", "Security events recorded.", ["action", "success"])
AUTH_FAILURES = Counter("unmogrowp_auth_failures_total", "Failed sign-ins, refresh-token reuse and lockouts.", ["kind"])
SECURITY_ALERTS = Counter("unmogrowp_security_alerts_total", "Suspicious bursts detected.", ["kind"])

# --- SQLite checkpoints (core.checkpoints) -----------------------------------------------------------
CHECKPOINTS = Counter(
    "unmogrowp_sqlite_checkpoints_total", "PASSIVE checkpoints run by the web process's thread.", ["result"]
)

# --- ingestion (events.ingestion) --------------------------------------------------------------------
EVENTS_RESULT = Counter(
    "unmogrowp_events_total",
    "Events received, by result (accepted, rejected, dropped) and reason (invalid, opted_out).",
    ["result", "reason"],
)
INGEST_REFUSED = Counter(
    "unmogrowp_ingest_refused_total", "Ingestion requests refused whole (nothing accepted), by reason.", ["reason"]
)
GUARD_UNAVAILABLE = Counter(
    "unmogrowp_ingest_guard_unavailable_total", "Ingestion requests accepted without replay/rate checks."
)
TOUCHES = Counter("unmogrowp_touchpoints_total", "Touchpoints received, by type and result.", ["type", "result"])

# --- attribution (events.attribution_engine) ------------------------------------------------------
ATTRIBUTION_LAG = Gauge(
    "unmogrowp_attribution_lag_seconds",
    "How far the continuous attribution is behind: now minus the oldest app's cursor (settle time included).",
    multiprocess_mode="max",
)

# --- data subjects and retention (events.subjects, events.retention) ----------------------------------
SUBJECT_REQUESTS = Counter(
    "unmogrowp_subject_requests_total", "Data-subject requests finished, by action and status.", ["action", "status"]
)
RETENTION_REMOVED = Counter(
    "unmogrowp_retention_rows_removed_total", "Rows removed as past their retention, by store.", ["store"]
)
