"""examples/fastapi: the "Asynchronous Tasks with FastAPI and Celery" tutorial app on brokerd.

The tutorial's tests ported (home page, the task run directly and mocked, POST a task and
poll its status until SUCCESS), plus the example's other endpoints end to end: the web app
through FastAPI's TestClient, the tasks in a real ``python3 -m brokerd worker -A worker``
started in examples/fastapi, both against a real brokerd.

``worker`` and ``main`` are the example's own module names (as in the tutorial): each test
imports them fresh, after pointing ``$BROKERD_SERVER`` at its broker, and takes them out
of ``sys.modules`` again afterwards, so no other test sees them.
"""
from __future__ import annotations

import importlib
import inspect
import pathlib
import sys
import time
import types
import uuid
from unittest.mock import patch

import pytest
from fastapi.testclient import TestClient

from brokerd import states
from brokerd_process import wait_for

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO / "examples" / "fastapi"
EXAMPLE_MODULES = ("worker", "main")
SCALE = "0.01"  # TASK_SLEEP_SCALE: the tutorial's 10/20/30 s tasks take 0.1/0.2/0.3 s


def _import_example(monkeypatch, server: str) -> types.SimpleNamespace:
    monkeypatch.setenv("BROKERD_SERVER", server)
    monkeypatch.setenv("TASK_SLEEP_SCALE", SCALE)
    monkeypatch.syspath_prepend(str(EXAMPLE_DIR))
    for name in EXAMPLE_MODULES:
        # A module of the same name imported before (another example, another test) is put
        # back afterwards; ours never outlives the test.
        monkeypatch.delitem(sys.modules, name, raising=False)
    worker = importlib.import_module("worker")
    main = importlib.import_module("main")
    assert pathlib.Path(worker.__file__).parent == EXAMPLE_DIR
    return types.SimpleNamespace(worker=worker, main=main)


@pytest.fixture
def example(broker, monkeypatch):
    """The example's modules, their app pointed at this test's broker."""
    modules = _import_example(monkeypatch, broker.address)
    assert str(modules.worker.celery.address) == broker.address
    yield modules
    modules.worker.celery.close()
    for name in EXAMPLE_MODULES:
        sys.modules.pop(name, None)  # monkeypatch then restores any previous module


@pytest.fixture
def offline_example(monkeypatch):
    """The modules for tests that never talk to a broker (nothing listens on port 9)."""
    modules = _import_example(monkeypatch, "127.0.0.1:9")
    yield modules
    modules.worker.celery.close()
    for name in EXAMPLE_MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def test_app(example):
    """The tutorial's fixture name: a TestClient on the FastAPI app (startup/shutdown run)."""
    with TestClient(example.main.app) as client:
        yield client


@pytest.fixture
def example_worker(start_worker):
    """``python3 -m brokerd worker -A worker --concurrency 2`` run in examples/fastapi."""
    return start_worker("worker", "--concurrency", "2", module_dir=EXAMPLE_DIR, env={"TASK_SLEEP_SCALE": SCALE})


def poll_until_finished(client: TestClient, task_id: str, timeout: float = 30.0) -> dict:
    """GET /tasks/{id} until the task is finished (the page's polling loop, with a deadline)."""

    def finished():
        response = client.get(f"/tasks/{task_id}")
        assert response.status_code == 200, response.text
        content = response.json()
        assert set(content) == {"task_id", "task_status", "task_result"}
        return content if content["task_status"] in states.READY_STATES else None

    return wait_for(finished, timeout, f"task {task_id} to finish")


def post_task(client: TestClient, path: str, body: dict) -> str:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    content = response.json()
    assert set(content) == {"task_id"} and content["task_id"]
    return content["task_id"]


# ---- the tutorial's tests ------------------------------------------------------------------------

def test_home(test_app):
    response = test_app.get("/")
    assert response.status_code == 200
    page = response.text
    assert "<h1>Tasks</h1>" in page
    for task_type in (1, 2, 3):
        assert f'onclick="handleClick({task_type})"' in page
    assert '<tbody id="tasks">' in page
    assert "/static/main.js" in page and "/static/main.css" in page
    # No CDN: the page loads nothing but its own static files.
    assert "cdn" not in page.lower()
    assert all(url.startswith("http://testserver/static/")
               for url in _attribute_values(page, ("src", "href")))
    script = test_app.get("/static/main.js")
    assert script.status_code == 200 and "function handleClick(type)" in script.text
    assert "fetch('/tasks'" in script.text and "getStatus" in script.text
    assert test_app.get("/static/main.css").status_code == 200


def _attribute_values(page: str, names: tuple) -> list[str]:
    values = []
    for name in names:
        marker = f'{name}="'
        start = page.find(marker)
        while start != -1:
            end = page.index('"', start + len(marker))
            values.append(page[start + len(marker):end])
            start = page.find(marker, end)
    assert values, "the page links no script or stylesheet"
    return values


def test_task(offline_example):
    create_task = offline_example.worker.create_task
    assert create_task.run(1)
    assert create_task.run(2)
    assert create_task.run(3)
    assert create_task(1) is True  # calling the task runs it here, as in Celery
    started = time.monotonic()
    create_task.run(3)
    assert time.monotonic() - started >= 3 * 10 * float(SCALE)  # it did sleep, scaled


@patch("worker.create_task.run")
def test_mock_task(mock_run, offline_example):
    # The tutorial patches by the dotted name "worker.create_task.run": the fixture has
    # imported this test's `worker` before the patch resolves it.
    create_task = offline_example.worker.create_task
    assert create_task.run is mock_run
    assert create_task.run(1)
    create_task.run.assert_called_once_with(1)

    assert create_task.run(2)
    assert create_task.run.call_count == 2

    assert create_task.run(3)
    assert create_task.run.call_count == 3


def test_task_status(test_app, example_worker):
    task_id = post_task(test_app, "/tasks", {"type": 1})

    response = test_app.get(f"/tasks/{task_id}")
    assert response.status_code == 200
    content = response.json()
    # The tutorial sees PENDING here; brokerd has no PENDING, the task is QUEUED (or
    # already running), and nothing is finished yet.
    assert content["task_id"] == task_id
    assert content["task_status"] in (states.QUEUED, states.STARTED)
    assert content["task_result"] is None

    content = poll_until_finished(test_app, task_id)
    assert content == {"task_id": task_id, "task_status": "SUCCESS", "task_result": True}
    example_worker.wait_log(f"Task create_task[{task_id}] succeeded in")


# ---- beyond the tutorial -----------------------------------------------------------------------

def test_task_waits_durably_until_a_worker_comes(test_app, start_worker):
    # Enqueued with no worker running: it stays QUEUED, then a worker runs it.
    task_id = post_task(test_app, "/tasks", {"type": 2})
    assert test_app.get(f"/tasks/{task_id}").json() == {
        "task_id": task_id, "task_status": "QUEUED", "task_result": None}
    start_worker("worker", "--concurrency", "2", module_dir=EXAMPLE_DIR, env={"TASK_SLEEP_SCALE": SCALE})
    assert poll_until_finished(test_app, task_id)["task_result"] is True


def test_unknown_task_id_is_404(test_app):
    for task_id in (str(uuid.uuid4()), "no-such-task"):
        response = test_app.get(f"/tasks/{task_id}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"detail": f"no task with id {task_id!r}"}


def test_invalid_task_type_is_422(test_app):
    for body in ({"type": 0}, {"type": 4}, {"type": "long"}, {}):
        assert test_app.post("/tasks", json=body).status_code == 422
    assert test_app.post("/tasks", content=b"not json", headers={"content-type": "application/json"}
                         ).status_code == 422


def test_add_divide_and_report(test_app, example, example_worker):
    add_id = post_task(test_app, "/add", {"x": 4, "y": 4})
    quarter_id = post_task(test_app, "/divide", {"x": 1, "y": 4})
    zero_id = post_task(test_app, "/divide", {"x": 1, "y": 0})
    report_id = post_task(test_app, "/report", {"numbers": [3, 1, 2, 6], "title": "weekly"})
    empty_id = post_task(test_app, "/report", {"numbers": []})

    assert poll_until_finished(test_app, add_id) == {"task_id": add_id, "task_status": "SUCCESS", "task_result": 8}
    assert poll_until_finished(test_app, quarter_id)["task_result"] == 0.25
    # A failure is shown as its type and message (JSON), not as an exception object.
    assert poll_until_finished(test_app, zero_id) == {
        "task_id": zero_id, "task_status": "FAILURE",
        "task_result": {"type": "ZeroDivisionError", "message": "division by zero"}}
    # Not in autoretry_for: it fails at once, although the task may be retried 3 times.
    info = example.worker.celery.AsyncResult(zero_id).task_info()
    assert (info.attempts, info.retries, info.max_retries) == (1, 0, 3)
    assert poll_until_finished(test_app, report_id)["task_result"] == {
        "title": "weekly", "count": 4, "sum": 12.0, "mean": 3.0, "min": 1.0, "max": 6.0}
    assert poll_until_finished(test_app, empty_id)["task_result"] == {
        "title": "report", "count": 0, "sum": 0, "mean": None, "min": None, "max": None}
    example_worker.wait_log(f"Task divide[{zero_id}] raised unexpected: ZeroDivisionError")


def test_fetch_with_retry_backs_off_then_succeeds(test_app, example, example_worker):
    task_id = post_task(test_app, "/fetch", {"failures": 2})
    content = poll_until_finished(test_app, task_id)
    assert content["task_status"] == "SUCCESS"
    assert content["task_result"] == {"url": "https://example.invalid/data", "attempts": 3, "body": "ok"}

    info = example.worker.celery.AsyncResult(task_id).task_info()
    assert (info.name, info.attempts, info.retries, info.max_retries) == ("fetch_with_retry", 3, 2, 3)
    # Each retry waits in the broker as RETRY, is QUEUED again when due, and runs.
    assert [state for state, _ in info.history] == [
        "QUEUED", "STARTED", "RETRY", "QUEUED", "STARTED", "RETRY", "QUEUED", "STARTED", "SUCCESS"]
    # The countdowns double: 2^0, 2^1 seconds times the scale, waited in the broker.
    waits = _retry_waits_ms(info.history)
    assert len(waits) == 2
    assert waits[0] >= 1 * 1000 * float(SCALE) and waits[1] >= 2 * 1000 * float(SCALE)


def test_fetch_with_retry_gives_up_after_max_retries(test_app, example, example_worker):
    task_id = post_task(test_app, "/fetch", {"failures": 5})
    content = poll_until_finished(test_app, task_id)
    assert content["task_status"] == "FAILURE"
    assert content["task_result"] == {
        "type": "UpstreamUnavailable",
        "message": "https://example.invalid/data unavailable (attempt 4 of 5 failing)"}
    info = example.worker.celery.AsyncResult(task_id).task_info()
    assert (info.attempts, info.retries) == (4, 3)


def test_fetch_with_autoretry_backs_off_as_the_worker_computes_it(test_app, example, example_worker):
    task_id = post_task(test_app, "/fetch", {"failures": 2, "autoretry": True})
    content = poll_until_finished(test_app, task_id)
    assert content["task_status"] == "SUCCESS" and content["task_result"]["attempts"] == 3
    info = example.worker.celery.AsyncResult(task_id).task_info()
    assert (info.name, info.attempts, info.retries) == ("fetch_with_autoretry", 3, 2)
    # retry_backoff = scale seconds, doubling, no jitter: 10 ms then 20 ms at least.
    waits = _retry_waits_ms(info.history)
    assert waits[0] >= 10 and waits[1] >= 20


def _retry_waits_ms(history) -> list[int]:
    """For each RETRY, the time until the next STARTED."""
    waits = []
    retry_at = None
    for state, at_ms in history:
        if state == "RETRY":
            retry_at = at_ms
        elif state == "STARTED" and retry_at is not None:
            waits.append(at_ms - retry_at)
            retry_at = None
    return waits


def test_broker_endpoints_are_async(example):
    # The endpoints that talk to the broker are coroutines using the a-prefixed calls,
    # so a slow broker never blocks the event loop.
    endpoints = {(route.path, method): route.endpoint
                 for route in example.main.app.routes if hasattr(route, "methods")
                 for method in route.methods}
    for key in [("/tasks", "POST"), ("/tasks/{task_id}", "GET"), ("/add", "POST"), ("/divide", "POST"),
                ("/report", "POST"), ("/fetch", "POST")]:
        endpoint = endpoints[key]
        assert inspect.iscoroutinefunction(endpoint), key
        source = inspect.getsource(endpoint)
        assert "await " in source and (".adelay(" in source or ".atask_info(" in source), key


def test_many_tasks_at_once_from_concurrent_requests(test_app, example_worker):
    # The tutorial's page clicked many times: every request gets its own task, all finish.
    ids = [post_task(test_app, "/tasks", {"type": 1}) for _ in range(6)]
    assert len(set(ids)) == 6
    assert all(poll_until_finished(test_app, task_id)["task_result"] is True for task_id in ids)


def test_broker_down_is_503_not_500(test_app, example, broker):
    assert test_app.get(f"/tasks/{uuid.uuid4()}").status_code == 404  # connected
    example.worker.celery.close()
    example.worker.celery.connect_timeout = 0.5
    assert broker.stop() == 0
    response = test_app.post("/tasks", json={"type": 1})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the task broker is unavailable")
    assert test_app.get(f"/tasks/{uuid.uuid4()}").status_code == 503
