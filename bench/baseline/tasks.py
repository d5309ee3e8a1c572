"""Celery app and tasks of the FastAPI + Celery baseline (see README.md).

Run by the driver as
    python -m celery -A tasks worker --pool prefork --concurrency 2 --prefetch-multiplier=1 ...
Redis (BASELINE_REDIS_URL) is both the broker and the result backend.
"""
import os
import time

from celery import Celery

REDIS_URL = os.environ.get("BASELINE_REDIS_URL")
if not REDIS_URL:
    raise SystemExit("BASELINE_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")

app = Celery("baseline", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # STARTED is stored when a worker picks a task up, so GET can say "running".
    task_track_started=True,
    # Results are stored (the replaced design polled them); keep them an hour.
    task_ignore_result=False,
    result_expires=3600,
    # Celery's defaults, spelled out: ack on receipt (acks early), one
    # reserved task per worker process (--prefetch-multiplier=1 on the command line).
    task_acks_late=False,
    worker_prefetch_multiplier=1,
    # Connection pools: kombu's producer/connection pool for the broker and
    # redis-py's ConnectionPool for the result backend.
    broker_pool_limit=32,
    redis_max_connections=64,
    broker_connection_retry=True,
)


@app.task(name="diagnostic.noop")
def noop():
    return {"ok": True}


@app.task(name="diagnostic.cpu")
def cpu(ms=0):
    """Keep one CPU busy for ms milliseconds of wall-clock time (as calcgrid's diagnostic.cpu)."""
    ms = int(ms)
    end = time.monotonic() + ms / 1000.0
    while time.monotonic() < end:
        pass
    return {"ms": ms}


TASKS = {t.name: t for t in (noop, cpu)}
