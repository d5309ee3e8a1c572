"""Client side of the FastAPI + Celery baseline, driven by calcbench (see README.md).

    client.py latency N              N sequential diagnostic.noop tasks, .delay().get()
    client.py enqueue N TYPE [MS]    enqueue N tasks (ids to the file named by $BASELINE_IDS)
    client.py count IDSFILE          states of the tasks in IDSFILE
    client.py wait IDSFILE TIMEOUT_S wait until every task in IDSFILE is done

Each command prints one JSON object on stdout.
"""
import os
import time

# "wait" reports seconds since the call: from when bench/baseline/python was
# started (it sets BASELINE_CALLED before probing for an interpreter), else from
# here, before the slow celery import.
CALLED = float(os.environ.get("BASELINE_CALLED") or time.time())

import json  # noqa: E402
import math  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
import sys  # noqa: E402

from celery import states  # noqa: E402

from tasks import TASKS, app, noop  # noqa: E402


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


def enqueue(n, type_, ms=None):
    task = TASKS[type_]
    kwargs = {} if ms is None else {"ms": int(ms)}
    ids = []
    t0 = time.perf_counter()
    for _ in range(n):
        ids.append(task.apply_async(kwargs=kwargs).id)
    seconds = time.perf_counter() - t0
    path = os.environ.get("BASELINE_IDS")
    if path:
        with open(path, "w") as f:
            f.write("".join(i + "\n" for i in ids))
    return {"n": n, "seconds": round(seconds, 4)}


def read_ids(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def fetch_meta(ids):
    """(state, done_at) of ids from the result backend, in MGET batches (no AsyncResult
    per id); done_at is the worker's date_done as a Unix time, None until ready."""
    backend = app.backend
    out = {}
    for i in range(0, len(ids), 1000):
        batch = ids[i:i + 1000]
        values = backend.mget([backend.get_key_for_task(t) for t in batch])
        for t, v in zip(batch, values):
            meta = backend.decode_result(v) if v else {"status": states.PENDING}
            out[t] = (meta["status"], unix_time(meta.get("date_done")))
    return out


def unix_time(date_done):
    if not date_done:
        return None
    d = datetime.fromisoformat(date_done)
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()


def tally(meta):
    done = sum(1 for s, _ in meta.values() if s == states.SUCCESS)
    failed = sum(1 for s, _ in meta.values() if s == states.FAILURE)
    return {"completed": done, "failed": failed, "other": len(meta) - done - failed}


def count(path):
    return tally(fetch_meta(read_ids(path)))


def wait(path, timeout_s):
    """Polls every 50 ms. "seconds" is from the call to the last task's completion as
    the worker stamped it (date_done), so neither this script's start-up (the
    interpreter probe and the celery import take a second or more) nor the polling
    interval counts; on timeout it is the time waited."""
    final = {}
    pending = read_ids(path)
    while True:
        meta = fetch_meta(pending)
        final.update(meta)
        pending = [t for t in pending if meta[t][0] not in states.READY_STATES]
        if not pending or time.time() - CALLED >= timeout_s:
            break
        time.sleep(0.05)
    out = tally(final)
    if pending:
        seconds = time.time() - CALLED
    else:
        last = max((d for _, d in final.values() if d is not None), default=CALLED)
        seconds = max(0.0, last - CALLED)
    out["seconds"] = round(seconds, 4)
    return out


def main(argv):
    usage = __doc__.strip()
    if len(argv) < 2:
        sys.exit(usage)
    cmd, args = argv[1], argv[2:]
    if cmd == "latency" and len(args) == 1:
        out = latency(int(args[0]))
    elif cmd == "enqueue" and len(args) in (2, 3) and args[1] in TASKS:
        out = enqueue(int(args[0]), args[1], args[2] if len(args) == 3 else None)
    elif cmd == "count" and len(args) == 1:
        out = count(args[0])
    elif cmd == "wait" and len(args) == 2:
        out = wait(args[0], float(args[1]))
    else:
        sys.exit(usage)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv)
