"""A consumer process for the bus tests: takes messages, reports them, never commits, waits to be killed.

Usage: python -m tests.bus_worker TOPIC GROUP COUNT   (settings come from the environment)
"""

import os
import sys
import time

import django


def main() -> None:
    topic, group, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attribution.settings")
    django.setup()
    from events.bus import get_bus

    subscription = get_bus().subscribe(topic, group)
    received = 0
    deadline = time.monotonic() + 60
    while received < count and time.monotonic() < deadline:
        received += len(subscription.poll(max_messages=count - received, timeout=1.0))
    print(f"RECEIVED {received}", flush=True)
    time.sleep(3600)  # holds the messages uncommitted until the test kills this process


if __name__ == "__main__":
    main()
