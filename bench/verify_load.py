"""Row 1: public verification under gunicorn, against a bare Flask + psycopg floor.

Both apps run under the same gunicorn command (the production profile of ``make serve``:
sync workers, 2 x CPUs + 1 of them, capped at 12), one after the other on the same port,
and the same load generator (bench.loadgen, a separate process) requests the same distinct
certificate codes from both. The rounds alternate floor, app, floor, app, ... and each side's
median counts, so a neighbour's burst of CPU use hits both sides alike.

On this 2-CPU machine the generator competes with the server for the CPUs (it is pinned to
the last one; gunicorn and PostgreSQL float). It reports its own CPU use: well below 100%
of its core means it spent its time waiting for the server, i.e. it was not the bottleneck.
Since the machine is shared, each side's gunicorn workers' CPU time per request is measured
too (from /proc): unlike requests per second, it does not depend on what else runs.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.environment import production_env
from bench.generate import libpq

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_PORT", "8765"))
# Distinct client addresses the generator claims (X-Forwarded-For): with the production limit
# of 60 verifications per minute and address, none of them ever reaches it.
CLIENTS = 50_000


def workers() -> int:
    """What gunicorn.conf.py starts (``make serve``): 2 x CPUs + 1, at most 12."""
    return int(os.environ.get("WEB_CONCURRENCY") or min(12, 2 * len(os.sched_getaffinity(0)) + 1))


def _gunicorn_cmd(module: str) -> list[str]:
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{PORT}",
        module,
    ]


def _client_cpu() -> int | None:
    """The CPU the load generator is pinned to (the last one), None on one CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1] if len(cpus) > 1 else None


def _wait_ready(path: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=2) as sock:
                sock.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                )
                if sock.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer in time")


class Server:
    """A gunicorn process group started (and stopped) by us."""

    def __init__(self, module: str, env: dict, probe: str):
        self.proc = subprocess.Popen(  # noqa: S603 - our own command line
            _gunicorn_cmd(module),
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_ready(probe, self.proc)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the workers (user + system, from /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        total = 0
        for pid in children.split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:  # a worker restarted (max_requests) in between
                continue
            total += int(fields[11]) + int(fields[12])
        return total / tick

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _load(paths_file: Path, seconds: float, concurrency: int) -> dict:
    client_cpu = _client_cpu()
    cmd = [sys.executable, "-m", "bench.loadgen", "--port", str(PORT)]
    cmd += ["--paths", str(paths_file), "--seconds", str(seconds)]
    cmd += ["--concurrency", str(concurrency), "--clients", str(CLIENTS)]
    if client_cpu is not None:
        cmd += ["--cpu", str(client_cpu)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    return json.loads(out.stdout)


def verify_codes(database_url: str, n: int = 5000) -> list[str]:
    """``n`` distinct verification codes of valid certificates, in random order."""
    with psycopg.connect(libpq(database_url)) as conn:
        rows = conn.execute(
            "SELECT verify_code FROM certificates WHERE status = 'valid' "
            "ORDER BY random() LIMIT %s",
            (n,),
        ).fetchall()
    codes = [r[0] for r in rows]
    random.shuffle(codes)
    return codes


def _side(module: str, env: dict, paths_file: Path, probe: str, seconds, concurrency) -> dict:
    server = Server(module, env, probe)
    try:
        _load(paths_file, 2.0, concurrency)  # warm every worker's connection and caches
        cpu = server.cpu_seconds()
        result = _load(paths_file, seconds, concurrency)
        cpu = server.cpu_seconds() - cpu
        return {**result, "server_cpu_ms": 1000 * cpu / max(1, result["requests"])}
    finally:
        server.stop()


def measure(database_url: str, *, rounds: int = 3, seconds: float = 8.0, log=print) -> list[dict]:
    """Row 1 (limiter on, Redis, as in production) plus the same app with the limiter off."""
    codes = verify_codes(database_url)
    if not codes:
        raise RuntimeError("the dataset has no certificates to verify")
    concurrency = 4 * workers()
    with tempfile.TemporaryDirectory(prefix="lms-bench-") as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("".join(f"/api/v1/verify/{c}\n" for c in codes))
        probe = f"/api/v1/verify/{codes[0]}"
        app_env = production_env(Path(tmp) / "app", database_url)
        nolimit_env = {**app_env, "RATELIMIT_ENABLED": "false"}
        floor_env = {"DATABASE_URL": database_url}
        for env in (app_env, nolimit_env, floor_env):
            env["GUNICORN_MAX_REQUESTS"] = "0"  # no worker restarts inside a measurement
        sides = {
            "floor": ("bench.floor_app:app", floor_env),
            "app": ("wsgi:app", app_env),
            "app_no_limiter": ("wsgi:app", nolimit_env),
        }
        results: dict[str, list[dict]] = {k: [] for k in sides}
        for r in range(rounds):
            for name, (module, env) in sides.items():
                result = _side(module, env, paths_file, probe, seconds, concurrency)
                results[name].append(result)
                log(
                    f"  row 1 round {r + 1}/{rounds} {name}: {result['rps']:.0f} req/s, "
                    f"{result['errors']} errors, server CPU {result['server_cpu_ms']:.2f} ms/req, "
                    f"client CPU {result['client_cpu_share']:.0%}"
                )
    return _rows(results, concurrency)


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def _rows(results: dict[str, list[dict]], concurrency: int) -> list[dict]:
    floor = _median(results["floor"], "rps")
    app = _median(results["app"], "rps")
    nolimit = _median(results["app_no_limiter"], "rps")
    errors = sum(r["errors"] for rs in results.values() for r in rs)
    client = max(r["client_cpu_share"] for rs in results.values() for r in rs)
    cpu = {k: _median(v, "server_cpu_ms") for k, v in results.items()}
    settings = f"gunicorn.conf.py, {workers()} sync workers, {concurrency} connections"
    note = (
        f"{settings}; limiter on (Redis, 60/min per address, {CLIENTS:,} addresses); "
        f"without the limiter {nolimit:.0f} req/s ({nolimit / floor:.2f}x); worker CPU per "
        f"request: floor {cpu['floor']:.2f} ms, app {cpu['app']:.2f} ms "
        f"({cpu['floor'] / cpu['app']:.2f}x), without limiter {cpu['app_no_limiter']:.2f} ms; "
        f"generator at most {client:.0%} of its CPU; {errors} non-200 answers"
    )
    return [
        {
            "row": 1,
            "title": "public verification, req/s (gunicorn)",
            "ours": app,
            "floor": floor,
            "ratio": app / floor,
            "target": ">= 0.8x",
            "met": app / floor >= 0.8 and errors == 0,
            "note": note,
            "unit": "req/s",
        }
    ]
