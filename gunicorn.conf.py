"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app`` (``make serve``).

Every value can be overridden on the command line (``--workers 4``) or through the
environment variables named below; docs/deployment.md explains the numbers.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def default_workers(cpus: int | None = None) -> int:
    """2 x CPUs + 1 sync workers (gunicorn's rule of thumb), capped at 12.

    A sync worker serves one request at a time and so holds at most one database
    connection: a dozen per host keeps several hosts under PostgreSQL's default
    max_connections of 100. Beyond that, add hosts (and raise max_connections or put
    PgBouncer in front), not workers.
    """
    cpus = cpus or len(os.sched_getaffinity(0)) or 1  # the CPUs this process may use
    return min(2 * cpus + 1, 12)


# WEB_CONCURRENCY is the variable gunicorn itself and most platforms use for this.
workers = _int("WEB_CONCURRENCY", default_workers())
worker_class = "sync"
# Behind a proxy on the same host; `--bind 0.0.0.0:8000` when the load balancer is elsewhere.
bind = "127.0.0.1:8000"

# A sync worker that has not answered within `timeout` seconds is killed and its request
# fails with 502 at the proxy. Most requests take milliseconds; the slow ones are admin work
# on a whole course (roster import, bulk issuance, the first ZIP export of 10k certificates,
# which renders every PDF not yet stored). 120 s covers them at a few thousand rows.
timeout = _int("GUNICORN_TIMEOUT", 120)
# On SIGTERM (a deploy), requests in flight get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Worker recycling (restart after about N requests, against slow leaks) is off: with
# LMS_JOBS_RUNNER=thread, background jobs run in daemon threads of the worker that accepted
# them, and a recycled worker takes its running jobs down with it. Set it (e.g. 2000) only
# with LMS_JOBS_RUNNER=worker. The jitter keeps the workers from restarting all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10

# Not preloaded: each worker imports the app after the fork, so nothing (a database
# connection, a Redis client) is ever shared between processes by accident, and
# `kill -HUP` reloads the code. A configuration error still stops gunicorn at startup:
# the workers fail to boot and the master exits.
preload_app = False

# The heartbeat file of each worker: in memory when /dev/shm exists (containers often
# mount /tmp on a slow overlay, which can make healthy workers miss their heartbeat).
if os.path.isdir("/dev/shm"):  # noqa: S108 - a path gunicorn's docs recommend
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# Logs on stdout/stderr, collected by systemd or the container runtime. The client address
# is the one ProxyFix took from X-Forwarded-For when LMS_PROXY_COUNT trusts a proxy; the
# worker pid follows the time; the last field is the time taken in seconds.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %(t)s %(p)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" %(L)s'

# X-Forwarded-Proto from these addresses sets the https scheme in gunicorn itself
# (FORWARDED_ALLOW_IPS, default 127.0.0.1,::1: a proxy on the same host). The app's own
# switch is LMS_PROXY_COUNT (werkzeug's ProxyFix), which also takes the client address.
