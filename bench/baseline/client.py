"""Client side of the FastAPI + Celery baseline, driven by calcbench (see README.md).

    client.py ping        whether a worker answers (calcbench waits for it after a start)
    client.py latency N   N sequential diagnostic.noop tasks, .delay().get()

Each command prints one JSON object on stdout.
"""
import json
import math
import sys
import time

from celery import states

from tasks import app, noop


def percentile(sorted_ms, p):
    """Nearest-rank percentile."""
    rank = math.ceil(p / 100.0 * len(sorted_ms))
    return sorted_ms[min(len(sorted_ms), max(1, rank)) - 1]


def summary(ms):
    ms = sorted(ms)
    return {"p50": round(percentile(ms, 50), 3), "p99": round(percentile(ms, 99), 3),
            "min": round(ms[0], 3), "max": round(ms[-1], 3)}


def latency(n):
    completed, started = [], []
    noop.delay().get(timeout=60)  # untimed: opens the broker and result connections
    for _ in range(n):
        seen = {}

        def on_message(meta, seen=seen):
            # The redis result backend publishes every state change, STARTED included.
            if meta.get("status") == states.STARTED and "started" not in seen:
                seen["started"] = time.perf_counter()

        t0 = time.perf_counter()
        noop.delay().get(timeout=60, on_message=on_message)
        t1 = time.perf_counter()
        completed.append((t1 - t0) * 1000.0)
        if "started" in seen:
            started.append((seen["started"] - t0) * 1000.0)
    out = {"n": n, "completed_ms": summary(completed)}
    if started:
        # Only the tasks whose STARTED message arrived while .get() listened: when the
        # worker has already started (or finished) the task by the time .get() reads the
        # stored state, Celery does not call on_message for it. "n" says how many.
        out["started_ms"] = dict(summary(started), n=len(started))
    return out


def main(argv):
    usage = __doc__.strip()
    if len(argv) < 2:
        sys.exit(usage)
    cmd, args = argv[1], argv[2:]
    if cmd == "latency" and len(args) == 1:
        out = latency(int(args[0]))
    elif cmd == "ping" and not args:
        out = {"ok": bool(app.control.ping(timeout=0.5))}
    else:
        sys.exit(usage)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv)
