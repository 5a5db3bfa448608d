"""API rate limits: fixed one-minute windows, one atomic increment per request, per signed-in user
or else per client IP. 429 with Retry-After (DRF adds the header from ``wait``).

When the cache is unreachable the limit fails open (requests pass, an error is logged and counted):
rate limits protect capacity, and refusing every API call during a Redis outage would be worse.
"""

import logging
import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from core import counters
from core.metrics import RATE_LIMIT_BYPASSED, RATE_LIMITED
from core.net import client_ip

logger = logging.getLogger(__name__)

_WINDOW_SECONDS = 60


class ApiRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            scope, subject, limit = "user", str(user.pk), settings.API_RATE_LIMIT_PER_USER
        else:
            scope, subject, limit = "ip", client_ip(request) or "unknown", settings.API_RATE_LIMIT_PER_IP
        now = time.time()
        window = int(now // _WINDOW_SECONDS)
        key = f"ratelimit:{scope}:{subject}:{window}"
        try:
            (count,), _ = counters.hit([(key, _WINDOW_SECONDS + 5)])
        except Exception as error:
            RATE_LIMIT_BYPASSED.inc()
            logger.error("rate limit store unavailable, letting the request through: %s", error)
            return True
        if count <= limit:
            return True
        RATE_LIMITED.labels(scope).inc()
        self._wait = max(1, int((window + 1) * _WINDOW_SECONDS - now + 0.999))
        return False

    def wait(self):
        return self._wait
