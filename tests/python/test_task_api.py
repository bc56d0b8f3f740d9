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


# ---- time limits and max_deliveries ---------------------------------------------------------

@app.task(name="unit.limited", time_limit=5, soft_time_limit=3)
def limited():
    return 1


def test_apply_async_time_limits_map_to_the_spec_in_ms():
    import datetime
    from brokerd.task_spec import build_spec
    spec = build_spec("t", (), None, {"time_limit": 2.5, "soft_time_limit": datetime.timedelta(seconds=1),
                                      "max_deliveries": 7})
    assert (spec.time_limit_ms, spec.soft_time_limit_ms, spec.max_deliveries) == (2500, 1000, 7)
    # A tiny positive limit is not rounded down to 0 ("none"); 0 and None are "not given".
    assert build_spec("t", (), None, {"time_limit": 0.0001}).time_limit_ms == 1
    for options in ({}, {"time_limit": None, "soft_time_limit": None, "max_deliveries": None},
                    {"time_limit": 0, "soft_time_limit": 0}):
        spec = build_spec("t", (), None, options)
        assert (spec.time_limit_ms, spec.soft_time_limit_ms, spec.max_deliveries) == (0, 0, 0)
    # A soft limit alone, or one equal to the hard one, is accepted (as by the broker).
    assert build_spec("t", (), None, {"soft_time_limit": 9}).soft_time_limit_ms == 9000
    assert build_spec("t", (), None, {"time_limit": 2, "soft_time_limit": 2}).soft_time_limit_ms == 2000


def test_task_decorator_time_limits_stay_in_the_worker():
    # The decorator's limits are the worker's defaults for the task, never sent...
    spec = limited.s().spec()
    assert (spec.time_limit_ms, spec.soft_time_limit_ms) == (0, 0)
    # ...unless the call gives its own, which override them (Celery's semantics).
    spec = limited.s().set(time_limit=60, soft_time_limit=50, max_deliveries=2).spec()
    assert (spec.time_limit_ms, spec.soft_time_limit_ms, spec.max_deliveries) == (60_000, 50_000, 2)


@pytest.mark.parametrize("options, error, match", [
    ({"time_limit": -1}, ValueError, "time_limit must not be negative"),
    ({"soft_time_limit": -0.5}, ValueError, "soft_time_limit must not be negative"),
    ({"time_limit": 1, "soft_time_limit": 2}, ValueError, "soft_time_limit .* must not exceed time_limit"),
    ({"time_limit": 8 * 86_400}, ValueError, "at most 604800 s"),
    ({"time_limit": float("inf")}, ValueError, "at most"),
    ({"time_limit": float("nan")}, TypeError, "time_limit must be a number"),
    ({"time_limit": "10"}, TypeError, "time_limit must be a number"),
    ({"soft_time_limit": True}, TypeError, "soft_time_limit must be a number"),
    ({"max_deliveries": 0}, ValueError, "max_deliveries must be an integer 1..1000"),
    ({"max_deliveries": 1001}, ValueError, "max_deliveries"),
    ({"max_deliveries": 2.0}, ValueError, "max_deliveries"),
    ({"max_deliveries": True}, ValueError, "max_deliveries"),
])
def test_time_limit_and_max_deliveries_validation(options, error, match):
    # Refused at the call, before anything is sent (this app's broker address is unused).
    with pytest.raises(error, match=match):
        add.apply_async((1, 2), **options)
    with pytest.raises(error, match=match):
        app.send_batch([add.s(1, 2).set(**options)])


def test_run_job_exposes_the_producers_limits_as_request_timelimit():
    peek = app.task(name="unit.peek", bind=True)(lambda self: list(self.request.timelimit))
    assert json.loads(run_job(app, job("unit.peek"))[1]) == [None, None]
    given = job("unit.peek")._replace(time_limit_ms=2500, soft_time_limit_ms=1000)
    assert json.loads(run_job(app, given)[1]) == [2.5, 1.0]
    assert peek.request.timelimit == (None, None)  # outside a worker


def test_worker_limits_delivery_over_task_over_worker_default():
    from types import SimpleNamespace
    from brokerd.worker.consumer import WorkerLoop
    worker = SimpleNamespace(app=app, time_limit=100.0, soft_time_limit=90.0)

    def limits(name, hard_ms=0, soft_ms=0):
        return WorkerLoop._limits(worker, job(name)._replace(time_limit_ms=hard_ms, soft_time_limit_ms=soft_ms))

    assert limits("test_task_api.add") == (90.0, 100.0)            # the worker's defaults
    assert limits("unit.limited") == (3, 5)                          # the task's own
    assert limits("unit.limited", 20_000, 10_000) == (10.0, 20.0)    # the producer's win
    assert limits("test_task_api.add", 2_000) == (None, 2.0)         # a soft at/past the hard is dropped
    assert limits("unit.limited", 0, 4_000) == (4.0, 5)              # each limit on its own
    assert limits("nope", 1_000) == (None, 1.0)                      # an unknown task too
