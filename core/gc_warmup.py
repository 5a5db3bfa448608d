"""Keep Python's garbage collector off the objects a web process keeps for its whole life.

Objects made while the process starts and warms up (settings, URL resolvers, cached keys, compiled
structs and templates) live as long as it does. Once frozen (``gc.freeze``), the collector never scans
them again, so its full collections no longer pause requests for as long as scanning them all took.
"""

import gc

# Enough requests for every hot path to have built its caches.
WARMUP_REQUESTS = 200


def frozen_after_warmup(app):
    """``app`` (WSGI), freezing what exists now and again after WARMUP_REQUESTS requests."""
    gc.freeze()
    served = 0

    def application(environ, start_response):
        nonlocal served
        served += 1
        if served == WARMUP_REQUESTS:
            gc.freeze()
        return app(environ, start_response)

    return application
