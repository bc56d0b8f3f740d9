"""The task API in-process: decorators, direct calls, mock.patch, retry outcomes (no broker)."""
import json
from unittest import mock

import pytest

import brokerd
from brokerd.worker.execution import Job, run_job
from brokerd.worker.loader import AppNotFound, load_app

app = brokerd.App("unit", server="127.0.0.1:1")


@app.task
def add(x, y):
    return x + y


@app.task(bind=True, max_retries=5)
def bound(self, value):
    if value == "retry":
        raise self.retry(exc=KeyError("k"), countdown=2)
    return {"id": self.request.id, "retries": self.request.retries, "called_directly": self.request.called_directly}


@app.task(autoretry_for=(ConnectionError,), max_retries=4)
def sometimes(kind):
    raise {"conn": ConnectionError, "value": ValueError}[kind]("boom")


def job(name, args=(), kwargs=None, retries=0):
    return Job(7, "task-1", name, json.dumps(list(args)), json.dumps(kwargs or {}), "default", retries + 1,
               retries, 0, 0, "w@test")


def test_names_and_registry():
    assert add.name == "test_task_api.add"
    assert app.tasks["test_task_api.add"] is add
    named = app.task(name="custom.name")(lambda: 1)
    assert named.name == "custom.name" and app.tasks["custom.name"] is named


def test_direct_calls():
    assert add(4, 4) == 8 and add.run(4, 4) == 8
    assert bound("x") == {"id": None, "retries": 0, "called_directly": True}
    with pytest.raises(KeyError):  # outside a worker, self.retry raises the exception given
        bound("retry")


@mock.patch("test_task_api.add.run")
def test_mock_patch_as_in_the_tutorial(mock_run):
    mock_run.return_value = 42
    assert add.run(1, 2) == 42
    add.run.assert_called_once_with(1, 2)


def test_run_job_success_and_context():
    assert run_job(app, job("test_task_api.add", (2, 3)))[:2] == ("success", "5")
    kind, result_json, _ = run_job(app, job("test_task_api.bound", ("x",), retries=2))
    assert json.loads(result_json) == {"id": "task-1", "retries": 2, "called_directly": False}
    assert bound.request.id is None  # the worker's context does not leak out of the run


def test_run_job_failures():
    kind, error_type, message, traceback, final, _, _ = run_job(app, job("test_task_api.add", (1, "a")))
    assert (kind, error_type, final) == ("failure", "TypeError", True)
    assert "unsupported operand" in message and "return x + y" in traceback
    assert run_job(app, job("nope"))[:2] == ("failure", "NotRegistered")
    unserialisable = app.task(name="unit.set")(lambda: {1})
    assert run_job(app, job(unserialisable.name))[:2] == ("failure", "EncodeError")


def test_run_job_retry_carries_countdown_and_limit():
    outcome = run_job(app, job("test_task_api.bound", ("retry",)))
    kind, countdown_ms, error_type, message, _, _, max_retries = outcome
    assert (kind, countdown_ms, error_type, message, max_retries) == ("retry", 2000, "KeyError", "'k'", 5)


def test_autoretry_for_retries_with_the_tasks_backoff_other_errors_are_final():
    kind, countdown_ms, error_type, _, _, _, max_retries = run_job(app, job("test_task_api.sometimes", ("conn",)))
    assert (kind, countdown_ms, error_type, max_retries) == ("retry", 180_000, "ConnectionError", 4)
    kind, _, _, _, final, _, _ = run_job(app, job("test_task_api.sometimes", ("value",)))
    assert (kind, final) == ("failure", True)


def test_autoretry_backoff_as_celery_computes_it():
    from brokerd.worker.execution import autoretry_countdown_ms
    exact = app.task(name="unit.exact", retry_backoff=2, retry_backoff_max=10, retry_jitter=False)(lambda: 1)
    assert [autoretry_countdown_ms(exact, n) for n in range(4)] == [2000, 4000, 8000, 10000]
    jittered = app.task(name="unit.jittered", retry_backoff=True)(lambda: 1)
    assert all(1 <= autoretry_countdown_ms(jittered, 3) <= 8000 for _ in range(100))


def test_loader(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one_app.py").write_text("import brokerd\nmy = brokerd.App('x', server='127.0.0.1:1')\n")
    (tmp_path / "two_apps.py").write_text("import brokerd\na = brokerd.App(server='h:1')\nb = brokerd.App(server='h:1')\n")
    assert load_app("one_app").main == "x"
    assert load_app("two_apps:b") is __import__("two_apps").b
    with pytest.raises(AppNotFound, match="2 brokerd.App"):
        load_app("two_apps")
    with pytest.raises(AppNotFound, match="cannot import"):
        load_app("missing_module_xyz")


def test_celery_style_constructor():
    assert brokerd.Celery is brokerd.App
    assert str(brokerd.App(broker="brokerd://10.0.0.1:7411").address) == "10.0.0.1:7411"
    with pytest.raises(ValueError, match="not a brokerd address"):
        brokerd.App(broker="redis://localhost:6379")
