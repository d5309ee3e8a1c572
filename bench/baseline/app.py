"""HTTP API of the FastAPI + Celery baseline (see README.md).

Run by the driver as
    python -m uvicorn app:app --workers 2 --loop uvloop --http httptools ...
Same request and response shapes as calcgrid's /v1/tasks, so the same wrk scripts work.
"""
from typing import Any, Dict, Literal

from celery.result import AsyncResult
from fastapi import FastAPI
from pydantic import BaseModel, Field

from tasks import TASKS, app as celery_app

STATES = {"PENDING": "pending", "RECEIVED": "pending", "STARTED": "running",
          "RETRY": "running", "SUCCESS": "completed", "FAILURE": "failed"}

app = FastAPI(title="calcgrid baseline (FastAPI + Celery)")


class Submission(BaseModel):
    # An unknown type fails validation: FastAPI answers 422.
    type: Literal["diagnostic.noop", "diagnostic.cpu"]
    payload: Dict[str, Any] = Field(default_factory=dict)


# Plain `def` endpoints: Celery's client calls block, so FastAPI runs them in its
# thread pool rather than on the event loop.
@app.post("/v1/tasks", status_code=202)
def submit(sub: Submission):
    res = TASKS[sub.type].apply_async(kwargs=sub.payload)
    return {"id": res.id, "state": "pending"}


@app.get("/v1/tasks/{task_id}")
def status(task_id: str):
    res = AsyncResult(task_id, app=celery_app)
    state = res.state
    body = {"id": task_id, "state": STATES.get(state, state.lower()), "result": None}
    if state == "SUCCESS":
        body["result"] = res.result
    elif state == "FAILURE":
        body["result"] = {"error": repr(res.result)}
    return body
