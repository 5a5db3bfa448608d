"""What the logs may say about a request: its method, path, status and timing, never who sent it.

A request's query string is dropped from every log line, whatever its parameters are called: the
click and impression URLs carry what ad networks fill in (device ids, the device's IP, click ids),
and a list of names to hide would miss the next network's. The touchpoint itself records what a
click carried, pseudonymised; the log needs only the path. SDK keys and JWTs are cut wherever they
appear in a message (the key's prefix, which lists show, is kept), and so is gunicorn's "ip=".

``RedactingFilter`` is on the console handler of the Django logging configuration (the development
server's request lines included: settings.LOGGING) and on gunicorn's loggers (``GunicornLogger``,
set in gunicorn.conf.py, whose access log format leaves out the client's address, referrer and
user agent).

Every line carries the id of the request it belongs to (``request_id``, set by
``core.middleware.request_id``, answered as ``X-Request-ID``): the web server's lines, and the
consumer's and the engine's, which name the requests whose rows they stored or attributed (the id
travels in the bus rows). Production writes one JSON object per line (LOG_FORMAT=json: time, level,
logger, message, request_id, exception), for log aggregation; development keeps readable lines.
"""

import contextvars
import datetime as dt
import logging
import re

import orjson
from django.conf import settings
from gunicorn import glogging

# The id of the request this thread serves. It is not reset when the response is sent: the server's
# own request line (runserver's, gunicorn's access log) is written after that, in the same thread,
# and must carry it; the thread's next request sets its own.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return orjson.dumps(line).decode()


_SECRET = re.compile(
    r"(?P<path>/[^\s?\"'<>]*)\?[^\s\"'<>]+"  # a URL's (or a request line's) query string
    r"|\bump_(?P<prefix>[A-Za-z0-9]+)_[A-Za-z0-9_\-]+"  # an SDK key: ump_<prefix>_<secret>
    r"|\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"  # a JWT (its header always starts so)
    r"|\bip=[^\s,;&\"']+"  # gunicorn's "Invalid request from ip=...", the client's address
)


def _replacement(match: re.Match) -> str:
    if match["path"] is not None:
        return f"{match['path']}?[redacted]"
    if match["prefix"] is not None:
        return f"ump_{match['prefix']}_[redacted]"
    if match[0].startswith("ip="):
        return "ip=[redacted]"
    return "[redacted JWT]"


def redact(text: str) -> str:
    return _SECRET.sub(_replacement, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback) with ``redact`` before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a record whose arguments do not fit: the handler reports it as such
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_filter = RedactingFilter()


_request_ids = RequestIdFilter()


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with ``RedactingFilter`` and the request id on its error and access logs, as
    JSON lines when LOG_FORMAT is json."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(_filter)  # one instance: a configuration reload adds nothing twice
            log.addFilter(_request_ids)
            if settings.LOG_FORMAT == "json":
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())
