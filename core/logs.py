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
"""

import logging
import re

from gunicorn import glogging

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


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with ``RedactingFilter`` on its error and access logs."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(_filter)  # one instance: a configuration reload adds nothing twice
