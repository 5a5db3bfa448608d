"""gunicorn's settings for the web image (the Dockerfile's CMD runs gunicorn with this file).

The access log says what was asked and how it went, never who asked: no client address, referrer
or user agent, and the request line's query string is dropped (core.logs, which also
redacts the error log). Each line ends with the request's id (X-Request-ID); with LOG_FORMAT=json
(production's default) every line is a JSON object, as Django's are.
"""

import os

# core.logs.GunicornLogger reads LOG_FORMAT from the Django settings, in the master process too.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attribution.settings")

# Worker processes use the cores; each worker's threads serve the requests that wait on I/O (Kafka's
# delivery reports, PostgreSQL, ClickHouse). docs/operations.md (Production serving) and BENCHMARKS.md
# (Web workers) say how to size them.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

accesslog = "-"
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
logger_class = "core.logs.GunicornLogger"
