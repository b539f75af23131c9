"""A small closed-loop HTTP/1.1 load generator (asyncio, raw sockets), run as its own process.

``python -m bench.loadgen --port 8000 --paths FILE --concurrency 16 --seconds 8``

Each of ``concurrency`` connections sends ``GET <path>`` with ``Connection: close`` (gunicorn's
sync workers close after every response anyway), reads the whole answer, and starts the next
request with the next path: the paths (distinct certificate codes) are used round robin, and
with ``--clients N`` each request claims one of N client addresses in X-Forwarded-For (as a
load balancer would add), so a per-address rate limit sees many verifiers, not one. It
prints one JSON line: requests, errors (non-200), seconds, requests per second, and the CPU
seconds this process used, so the caller can tell whether the generator was the bottleneck.
Only loopback addresses are accepted; the run stops by itself after ``seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import time


def client_address(n: int) -> str:
    """The n-th address of 198.18.0.0/15 (RFC 2544's benchmarking range): only ever written
    into X-Forwarded-For, never connected to."""
    return f"198.{18 + (n >> 16) % 2}.{(n >> 8) & 255}.{n & 255}"


async def _worker(host, port, paths, start, step, deadline, stats, clients):
    index = start
    while time.perf_counter() < deadline:
        path = paths[index % len(paths)]
        forwarded = f"X-Forwarded-For: {client_address(index % clients)}\r\n" if clients else ""
        index += step
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{forwarded}Connection: close\r\n\r\n"
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request.encode("ascii"))
            response = await reader.read()  # until the server closes
            writer.close()
        except OSError:
            stats["errors"] += 1
            continue
        stats["requests"] += 1
        if not response.startswith(b"HTTP/1.1 200"):
            stats["errors"] += 1


async def run(
    host: str, port: int, paths: list[str], concurrency: int, seconds: float, clients: int = 0
) -> dict:
    stats = {"requests": 0, "errors": 0}
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _worker(host, port, paths, i, concurrency, deadline, stats, clients)
            for i in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        **stats,
        "seconds": elapsed,
        "rps": stats["requests"] / elapsed,
        "client_cpu_seconds": cpu,
        "client_cpu_share": cpu / elapsed,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paths", required=True, help="file with one path per line")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument(
        "--clients",
        type=int,
        default=0,
        help="send X-Forwarded-For with this many distinct client addresses, round robin",
    )
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("only loopback addresses may be loaded")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with open(args.paths, encoding="utf-8") as f:
        paths = [line.strip() for line in f if line.strip()]
    result = asyncio.run(
        run(args.host, args.port, paths, args.concurrency, args.seconds, args.clients)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
