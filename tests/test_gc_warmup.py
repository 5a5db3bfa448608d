"""The web process freezes its long-lived objects once it has warmed up."""

import gc

from core.gc_warmup import WARMUP_REQUESTS, frozen_after_warmup


def test_objects_made_while_warming_up_are_frozen_after_the_warmup_requests():
    served = []

    def app(environ, start_response):
        served.append(environ)
        return [b"ok"]

    wrapped = frozen_after_warmup(app)
    gc.unfreeze()  # what the wrapper froze on creation: start from nothing frozen
    try:
        for n in range(WARMUP_REQUESTS - 1):
            assert wrapped({"n": n}, None) == [b"ok"]
        assert gc.get_freeze_count() == 0
        long_lived = [[] for _ in range(1000)]  # noqa: F841 - tracked objects alive as the warmup ends
        wrapped({}, None)
        assert gc.get_freeze_count() >= 1000
    finally:
        gc.unfreeze()
    assert len(served) == WARMUP_REQUESTS
