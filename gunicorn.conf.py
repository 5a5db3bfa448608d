"""gunicorn's settings for the web image (the Dockerfile's CMD runs gunicorn with this file).

The access log says what was asked and how it went, never who asked: no client address, referrer
or user agent, and the request line's query string is dropped (core.logs, which also
redacts the error log).
"""

accesslog = "-"
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms'
logger_class = "core.logs.GunicornLogger"
