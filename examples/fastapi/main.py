"""The web side of the FastAPI example: enqueue tasks, read their state by id.

The ``main.py`` of the "Asynchronous Tasks with FastAPI and Celery" tutorial
(testdriven.io) on brokerd. The endpoints and JSON shapes are the tutorial's:

    GET  /                  the page: buttons for a short/medium/long task, a table that polls
    POST /tasks             {"type": 1|2|3}            -> 201 {"task_id": ...}
    GET  /tasks/{task_id}   -> {"task_id", "task_status", "task_result"}; 404 for an unknown id

and a few more tasks, each answering 201 {"task_id": ...}:

    POST /add               {"x": 4, "y": 4}
    POST /divide            {"x": 1, "y": 0}           (ends FAILURE: ZeroDivisionError)
    POST /report            {"numbers": [1, 2, 3], "title": "..."}
    POST /fetch             {"failures": 2, "autoretry": false}   (retries with backoff)

Every endpoint that talks to the broker is ``async def`` and uses the asyncio forms of the
brokerd calls (``adelay``, ``atask_info``): the event loop never waits on the broker.

Differences from the tutorial, because brokerd is not Redis:
- an id the broker never saw is 404, not an eternal ``PENDING``; brokerd has no PENDING:
  a task is QUEUED (or SCHEDULED), then STARTED, RETRY, and SUCCESS, FAILURE or REVOKED;
- ``task_result`` of a failed task is ``{"type", "message"}`` (JSON), where the tutorial
  would hand an exception object to JSONResponse.

Run with ``uvicorn main:app`` from this directory (the broker from ``$BROKERD_SERVER``).
"""
from __future__ import annotations

import pathlib
from typing import Any, List, Union

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, StrictInt

import brokerd
from brokerd import states

from worker import add, celery, create_task, divide, fetch_with_autoretry, fetch_with_retry, generate_report

BASE_DIR = pathlib.Path(__file__).resolve().parent

app = FastAPI(title="brokerd + FastAPI")
app.mount("/static", StaticFiles(directory=BASE_DIR / "static"), name="static")
templates = Jinja2Templates(directory=str(BASE_DIR / "templates"))


# ---- request bodies ------------------------------------------------------------------------

class TaskRequest(BaseModel):
    type: int = Field(..., ge=1, le=3, description="1 short, 2 medium, 3 long")


class Operands(BaseModel):
    # StrictInt first: 4 stays 4 (add(4, 4) is 8, as in Celery's examples), 4.5 stays 4.5.
    x: Union[StrictInt, float]
    y: Union[StrictInt, float]


class ReportRequest(BaseModel):
    numbers: List[float] = Field(..., max_items=100_000)
    title: str = "report"


class FetchRequest(BaseModel):
    failures: int = Field(0, ge=0, le=10, description="attempts that fail before one succeeds")
    autoretry: bool = Field(False, description="let the broker compute the backoff (autoretry_for)")


class TaskId(BaseModel):
    task_id: str


class TaskStatus(BaseModel):
    task_id: str
    task_status: str
    task_result: Any = None


# ---- the page -------------------------------------------------------------------------------

@app.get("/")
def home(request: Request):
    return templates.TemplateResponse("home.html", {"request": request})


# ---- tasks ------------------------------------------------------------------------------------

@app.post("/tasks", status_code=201, response_model=TaskId)
async def run_task(payload: TaskRequest):
    # Returns once the broker has the task on disk; a worker picks it up from there.
    task = await create_task.adelay(payload.type)
    return {"task_id": task.id}


@app.get("/tasks/{task_id}", response_model=TaskStatus,
         responses={404: {"description": "the broker has no task with this id"}})
async def get_status(task_id: str):
    try:
        info = await celery.AsyncResult(task_id).atask_info()
    except brokerd.TaskNotFound:
        # Never enqueued, or its result expired (brokerd --result-ttl-s, one day by default).
        raise HTTPException(status_code=404, detail=f"no task with id {task_id!r}") from None
    return {"task_id": task_id, "task_status": info.state, "task_result": task_result(info)}


def task_result(info: brokerd.TaskInfo) -> Any:
    """The JSON shown for a task: its result on SUCCESS, its error (type and message) on
    FAILURE or REVOKED, else None (not finished yet)."""
    if info.state == states.SUCCESS:
        return info.result
    if info.state in (states.FAILURE, states.REVOKED):
        error = info.error
        if error is None:
            return {"type": "TaskRevokedError" if info.state == states.REVOKED else "Error", "message": ""}
        return {"type": error.type, "message": error.message}
    return None


@app.post("/add", status_code=201, response_model=TaskId)
async def run_add(payload: Operands):
    task = await add.adelay(payload.x, payload.y)
    return {"task_id": task.id}


@app.post("/divide", status_code=201, response_model=TaskId)
async def run_divide(payload: Operands):
    task = await divide.adelay(payload.x, payload.y)
    return {"task_id": task.id}


@app.post("/report", status_code=201, response_model=TaskId)
async def run_report(payload: ReportRequest):
    task = await generate_report.adelay(payload.numbers, title=payload.title)
    return {"task_id": task.id}


@app.post("/fetch", status_code=201, response_model=TaskId)
async def run_fetch(payload: FetchRequest):
    fetch = fetch_with_autoretry if payload.autoretry else fetch_with_retry
    task = await fetch.adelay(payload.failures)
    return {"task_id": task.id}


# ---- the broker being away --------------------------------------------------------------------

@app.exception_handler(brokerd.BrokerUnavailable)
@app.exception_handler(brokerd.ConnectionLost)
async def broker_unavailable(request: Request, exc: brokerd.BrokerError):
    # The app reconnects by itself; until then say so rather than answer 500.
    return JSONResponse(status_code=503, content={"detail": f"the task broker is unavailable: {exc}"})


@app.on_event("shutdown")
def close_broker_connection():
    celery.close()
