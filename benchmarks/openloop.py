"""An open-loop load generator for tail latency at a fixed rate (what wrk2 does; wrk2 is not packaged).

Requests leave on schedule, ``rate`` per second, whatever the server does: each goes on a connection of
its own (gunicorn's sync worker closes the connection after every response anyway), so a slow response
never delays the next request. A closed-loop tool (wrk, hey) waits for a response before it sends again
on that connection, and its workers fire in step: at "half the maximum rate" they send bursts that queue
in front of a one-worker server, and the tail they report is mostly their own burst.

``python -m benchmarks.openloop URL --rate R --seconds S [--body FILE] [--header 'K: V' ...]``
prints one JSON line: requests sent, failures, p50/p99/p99.9 and max latency in ms, and how late the
latest request left (the generator's own health: it should stay well under a millisecond or two).
"""

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit


def _request(url: str, body: bytes | None, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += headers
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return parts.hostname, parts.port or 80, "\r\n".join(lines).encode() + b"\r\n\r\n" + (body or b"")


async def _one(host: str, port: int, request: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await reader.readexactly(int(line.split(b":", 1)[1]))
        return time.perf_counter() - started, status
    finally:
        writer.close()


async def _run(url: str, rate: float, seconds: float, body: bytes | None, headers: list[str]) -> dict:
    host, port, request = _request(url, body, headers)
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    start = loop.time() + 0.05
    tasks, latest = [], 0.0
    sent = 0
    while sent < total:
        now = loop.time()
        # Everything due by now leaves now: the event loop wakes at millisecond granularity.
        while sent < total and start + sent / rate <= now:
            latest = max(latest, now - (start + sent / rate))
            tasks.append(asyncio.ensure_future(_one(host, port, request)))
            sent += 1
        if sent < total:
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted(r[0] * 1000 for r in results if not isinstance(r, BaseException) and r[1] < 400)
    failures = len(results) - len(latencies)

    def quantile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else float("nan")

    return {
        "sent": total,
        "failed": failures,
        "p50_ms": quantile(0.5),
        "p99_ms": quantile(0.99),
        "p999_ms": quantile(0.999),
        "max_ms": round(latencies[-1], 2) if latencies else float("nan"),
        "latest_send_ms": round(latest * 1000, 2),
    }


def measure(url: str, *, rate: float, seconds: float, body: bytes | None = None, headers=()) -> dict:
    return asyncio.run(_run(url, rate, seconds, body, list(headers)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--body", type=Path, help="POST this file (JSON)")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    args = parser.parse_args()
    body = args.body.read_bytes() if args.body else None
    print(json.dumps(measure(args.url, rate=args.rate, seconds=args.seconds, body=body, headers=args.header)))


if __name__ == "__main__":
    main()
