"""``python3 -m brokerd worker`` as real processes against a real brokerd."""
import os
import signal
import time

import pytest

import brokerd
from brokerd import states
from brokerd_process import wait_for


def test_delay_and_get(app, start_worker):
    worker = start_worker("sample_tasks", "--concurrency", "2")
    result = app.send_task("sample_tasks.add", args=[4, 4])
    assert result.get(timeout=30) == 8
    assert result.successful() and result.ready() and result.state == states.SUCCESS
    log = worker.wait_log(f"Task sample_tasks.add[{result.id}] succeeded in")
    assert f"Task sample_tasks.add[{result.id}] received" in log
    assert "[tasks]" in (worker.log_path.read_text()) and ". sample_tasks.add" in worker.log()


def test_registered_task_delay_from_the_app(app, start_worker):
    # The Celery shape: the same decorated function, called here and sent to the worker.
    @app.task(name="sample_tasks.add")
    def add(x, y):
        return x + y

    start_worker()
    assert add(2, 2) == 4
    assert add.delay(2, 2).get(timeout=30) == 4
    assert add.apply_async((3, 3), priority=5).get(timeout=30) == 6


def test_failure_carries_type_message_and_traceback(app, start_worker):
    worker = start_worker()
    result = app.send_task("sample_tasks.divide", args=[1, 0])
    with pytest.raises(brokerd.TaskFailed) as failed:
        result.get(timeout=30)
    assert failed.value.type == "ZeroDivisionError"
    assert failed.value.message == "division by zero"
    assert "sample_tasks.py" in failed.value.traceback and "ZeroDivisionError" in failed.value.traceback
    assert result.failed() and result.state == states.FAILURE
    assert isinstance(result.result, brokerd.TaskFailed)
    assert "return x / y" in result.traceback
    # An exception outside autoretry_for fails at once, although the task may retry 3 times.
    info = result.task_info()
    assert (info.retries, info.attempts) == (0, 1)
    assert "raised unexpected: ZeroDivisionError" in worker.wait_log("raised unexpected")


def test_bind_retry_with_countdown_succeeds_on_attempt_two(app, start_worker):
    start_worker()
    result = app.send_task("sample_tasks.flaky", args=[2])
    value = result.get(timeout=30)
    assert value == {"retries": 1, "id": result.id}
    info = result.task_info()
    assert (info.state, info.attempts, info.retries) == (states.SUCCESS, 2, 1)
    assert [s for s, _ in info.history] == [states.QUEUED, states.STARTED, states.RETRY, states.QUEUED,
                                              states.STARTED, states.SUCCESS]


def test_retries_exhausted_end_failure_with_the_original_error(app, start_worker):
    start_worker()
    result = app.send_task("sample_tasks.always_retry", max_retries=2)
    with pytest.raises(brokerd.TaskFailed) as failed:
        result.get(timeout=30)
    assert (failed.value.type, failed.value.message) == ("ValueError", "still broken")
    info = result.task_info()
    assert (info.retries, info.attempts) == (2, 3)


def test_unknown_task_and_unserialisable_result_fail_clearly(app, start_worker):
    start_worker()
    missing = app.send_task("sample_tasks.no_such_task")
    with pytest.raises(brokerd.TaskFailed) as failed:
        missing.get(timeout=30)
    assert failed.value.type == "NotRegistered"
    assert "sample_tasks.no_such_task" in failed.value.message
    bad = app.send_task("sample_tasks.unserialisable")
    with pytest.raises(brokerd.TaskFailed) as failed:
        bad.get(timeout=30)
    assert failed.value.type == "EncodeError" and "JSON" in failed.value.message


@pytest.mark.parametrize("how", ["exit", "segfault"])
def test_a_dying_pool_process_is_replaced_and_its_task_given_back(app, start_worker, how):
    worker = start_worker("sample_tasks", "--concurrency", "1")
    result = app.send_task("sample_tasks.crash_once", args=[how])
    assert result.get(timeout=30) == "survived attempt 2"
    assert result.task_info().attempts == 2
    log = worker.wait_log("the task goes back to the queue")
    assert ("signal 11" if how == "segfault" else "exit code 3") in log
    assert app.send_task("sample_tasks.add", args=[1, 1]).get(timeout=30) == 2  # the pool goes on
    assert worker.process.poll() is None


def test_prefork_pool_runs_tasks_in_parallel(app, start_worker, tmp_path):
    start_worker("sample_tasks", "--concurrency", "2", "--pool", "prefork")
    first = app.send_task("sample_tasks.rendezvous", args=[str(tmp_path), "a", "b"])
    second = app.send_task("sample_tasks.rendezvous", args=[str(tmp_path), "b", "a"])
    # Each returns True only if it saw the other arrive while it waited: they overlapped.
    assert first.get(timeout=60) is True
    assert second.get(timeout=60) is True


def test_thread_pool_runs_tasks_in_parallel(app, start_worker, tmp_path):
    start_worker("sample_tasks", "--concurrency", "2", "--pool", "threads")
    first = app.send_task("sample_tasks.rendezvous", args=[str(tmp_path), "a", "b"])
    second = app.send_task("sample_tasks.rendezvous", args=[str(tmp_path), "b", "a"])
    assert first.get(timeout=60) is True and second.get(timeout=60) is True


def test_priority_order(app, start_worker, tmp_path):
    order = tmp_path / "order"
    for priority in (0, 9, 5):
        app.send_task("sample_tasks.record", args=[str(order), f"p{priority}"], priority=priority)
    last = app.send_task("sample_tasks.record", args=[str(order), "p1"], priority=1)
    start_worker("sample_tasks", "--concurrency", "1", "--prefetch", "1")
    last.get(timeout=30)
    wait_for(lambda: order.exists() and len(order.read_text().split()) == 4, what="four tasks")
    assert order.read_text().split() == ["p9", "p5", "p1", "p0"]


def test_worker_killed_mid_task_its_task_finishes_on_another(app, start_worker, tmp_path):
    first = start_worker("sample_tasks", "--concurrency", "1", "--hostname", "first@test")
    result = app.send_task("sample_tasks.block", args=[str(tmp_path), "job"])
    wait_for(lambda: (tmp_path / "job.started").exists(), what="the task to start")
    first.signal(signal.SIGKILL)
    first.wait()
    start_worker("sample_tasks", "--concurrency", "1", "--hostname", "second@test")
    wait_for(lambda: len((tmp_path / "job.started").read_text().split()) == 2, what="the second run")
    (tmp_path / "job.release").touch()
    assert result.get(timeout=30) == "job"
    info = result.task_info()
    assert info.worker == "second@test"
    assert info.attempts == 2
    # The first worker's pool process died with it (nothing left running the task).
    first_pid = int((tmp_path / "job.started").read_text().split()[0])
    wait_for(lambda: not _alive(first_pid), what="the killed worker's pool process to exit")


def test_broker_restart_under_a_running_worker(app, broker, start_worker):
    worker = start_worker()
    assert app.send_task("sample_tasks.add", args=[1, 2]).get(timeout=30) == 3
    broker.restart()
    assert app.send_task("sample_tasks.add", args=[2, 3]).get(timeout=60) == 5
    assert "Connection to brokerd lost" in worker.log()
    assert worker.log().count("Connected to brokerd") == 2


def test_sigterm_is_a_warm_shutdown_that_loses_nothing(app, start_worker, tmp_path):
    worker = start_worker("sample_tasks", "--concurrency", "1", "--prefetch", "4")
    running = app.send_task("sample_tasks.block", args=[str(tmp_path), "running"])
    waiting = [app.send_task("sample_tasks.add", args=[i, i]) for i in range(3)]
    wait_for(lambda: (tmp_path / "running.started").exists(), what="the first task to start")
    worker.wait_log(f"Task sample_tasks.add[{waiting[-1].id}] received")
    worker.signal(signal.SIGTERM)
    worker.wait_log("Warm shutdown")
    # Prefetched tasks went back at once; the running one finishes before the exit.
    wait_for(lambda: all(r.state == states.QUEUED for r in waiting), what="prefetched tasks given back")
    assert worker.process.poll() is None
    (tmp_path / "running.release").touch()
    assert worker.wait(timeout=30) == 0
    assert running.state == states.SUCCESS and running.get() == "running"
    start_worker()
    assert [r.get(timeout=30) for r in waiting] == [0, 2, 4]


def test_second_signal_is_a_cold_shutdown(app, start_worker, tmp_path):
    worker = start_worker("sample_tasks", "--concurrency", "1")
    result = app.send_task("sample_tasks.block", args=[str(tmp_path), "cold"])
    wait_for(lambda: (tmp_path / "cold.started").exists(), what="the task to start")
    worker.signal(signal.SIGTERM)
    worker.wait_log("Warm shutdown")
    worker.signal(signal.SIGINT)
    assert worker.wait(timeout=30) == 1
    assert "Cold shutdown" in worker.log()
    wait_for(lambda: result.state == states.QUEUED, what="the abandoned task to be queued again")


def test_revoked_running_task_outcome_is_dropped(app, start_worker, tmp_path):
    worker = start_worker("sample_tasks", "--concurrency", "1", "--prefetch", "1")
    result = app.send_task("sample_tasks.block", args=[str(tmp_path), "revoked"])
    wait_for(lambda: (tmp_path / "revoked.started").exists(), what="the task to start")
    assert result.revoke() == states.REVOKED
    worker.wait_log("Discarding revoked task")
    (tmp_path / "revoked.release").touch()
    worker.wait_log("outcome dropped")
    assert result.state == states.REVOKED
    # Its credit was freed: the worker takes the next task.
    assert app.send_task("sample_tasks.add", args=[5, 5]).get(timeout=30) == 10


def test_lost_lease_never_runs_twice_inside_one_worker(app, broker, start_worker, tmp_path):
    # A broker restart voids the lease of a running task and delivers it again to the same
    # worker; the redelivery waits until the first run ends.
    worker = start_worker("sample_tasks", "--concurrency", "2")
    result = app.send_task("sample_tasks.block", args=[str(tmp_path), "once"])
    wait_for(lambda: (tmp_path / "once.started").exists(), what="the task to start")
    broker.restart()
    worker.wait_log("Task sample_tasks.block[" + result.id + "] received", timeout=30)
    wait_for(lambda: worker.log().count(f"[{result.id}] received") == 2, what="the redelivery")
    assert len((tmp_path / "once.started").read_text().split()) == 1  # not started twice at once
    (tmp_path / "once.release").touch()
    assert result.get(timeout=30) == "once"
    starts = (tmp_path / "once.started").read_text().split()
    assert len(starts) == 2  # the redelivery ran after the first run ended
    assert "outcome dropped" in worker.log()


def test_worker_help_and_bad_app(tmp_path):
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(__import__("pathlib").Path(brokerd.__file__).parents[1]))
    out = subprocess.run([sys.executable, "-m", "brokerd", "worker", "--help"], env=env, capture_output=True,
                         text=True, check=True).stdout
    for flag in ("--concurrency", "--pool", "--queues", "--prefetch", "--loglevel", "--logfile", "--hostname"):
        assert flag in out
    bad = subprocess.run([sys.executable, "-m", "brokerd", "worker", "-A", "no_such_module_here"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert bad.returncode == 2 and "cannot import 'no_such_module_here'" in bad.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


del time


def test_heartbeats_keep_a_long_task_leased(app, start_worker):
    # A 2 s lease and a task of 5 s: only heartbeats (every third of the lease) keep it.
    # (Margins sized for a loaded 2-core machine running the sanitizer build.)
    worker = start_worker("sample_tasks", "--concurrency", "1", "--lease-seconds", "2")
    result = app.send_task("sample_tasks.sleep_then", args=[5, "kept"])
    assert result.get(timeout=30) == "kept"
    info = result.task_info()
    assert (info.attempts, info.worker) == (1, "worker@" + __import__("socket").gethostname())
    assert "lease lost" not in worker.log()


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_system_exit_in_a_task_is_a_failure(app, start_worker, pool):
    start_worker("sample_tasks", "--concurrency", "1", "--pool", pool)
    with pytest.raises(brokerd.TaskFailed) as failed:
        app.send_task("sample_tasks.exits").get(timeout=30)
    assert failed.value.type == "SystemExit"
    assert app.send_task("sample_tasks.add", args=[1, 2]).get(timeout=30) == 3  # the slot goes on


def test_a_task_that_always_kills_its_process_ends(app, start_worker):
    worker = start_worker("sample_tasks", "--concurrency", "1")
    result = app.send_task("sample_tasks.always_crash")
    with pytest.raises(brokerd.TaskFailed) as failed:
        result.get(timeout=60)
    assert failed.value.type == "WorkerLostError"
    assert result.task_info().attempts == 3
    assert "ends FAILURE (WorkerLostError)" in worker.log()
    # The worker itself goes on, with a new pool process.
    assert app.send_task("sample_tasks.add", args=[1, 1]).get(timeout=30) == 2
    assert worker.process.poll() is None


def test_a_task_that_kills_the_whole_worker_ends_at_max_deliveries(app, start_worker):
    # With the thread pool the task takes the worker process down with it: only the
    # broker, counting lost leases, can end it (a restarted worker has no memory of it).
    result = app.send_task("sample_tasks.always_crash", max_deliveries=2)
    for delivery in (1, 2):
        worker = start_worker("sample_tasks", "--pool", "threads", "--concurrency", "1")
        assert worker.wait(timeout=30) == 4, f"delivery {delivery} should have killed the worker"
    info = wait_for(lambda: (lambda i: i if i.state == states.FAILURE else None)(result.task_info()),
                    timeout=30, what="the task to end")
    assert info.error.type == "DeliveryLimitExceeded"
    assert info.attempts == 2
    assert info.lost_leases == 2
    # A worker started now gets nothing of it.
    worker = start_worker("sample_tasks", "--pool", "threads", "--concurrency", "1")
    assert app.send_task("sample_tasks.add", args=[2, 2]).get(timeout=30) == 4
    assert worker.process.poll() is None


def test_sigterm_to_the_process_group_is_still_a_warm_shutdown(app, start_worker, tmp_path):
    worker = start_worker("sample_tasks", "--concurrency", "1")
    result = app.send_task("sample_tasks.block", args=[str(tmp_path), "group"])
    wait_for(lambda: (tmp_path / "group.started").exists(), what="the task to start")
    worker.signal_group(signal.SIGTERM)  # what systemd's KillMode=control-group does
    worker.wait_log("Warm shutdown")
    (tmp_path / "group.release").touch()
    assert worker.wait(timeout=30) == 0
    assert result.get(timeout=10) == "group"
    assert result.task_info().attempts == 1


def test_a_worker_refused_by_the_broker_exits(tmp_path, start_worker):
    # A producer token may not consume: the worker says so and stops, not idles.
    from brokerd_process import BrokerProcess
    tokens = tmp_path / "tokens"
    tokens.write_text("producer producer-token-for-test web\n")
    tokens.chmod(0o600)
    secured = BrokerProcess(tmp_path / "secured", ("--auth-tokens-file", str(tokens)))
    (tmp_path / "secured").mkdir()
    secured.start()
    try:
        import os as os_module
        import pathlib
        import subprocess
        import sys
        here = pathlib.Path(__file__).resolve().parent
        env = dict(os_module.environ, PYTHONPATH=f"{here.parents[1] / 'client' / 'python'}:{here}",
                   BROKERD_SERVER=secured.address, BROKERD_TOKEN="producer-token-for-test")
        done = subprocess.run([sys.executable, "-m", "brokerd", "worker", "-A", "sample_tasks", "-c", "1"],
                              env=env, cwd=here, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "refused to deliver to this worker" in done.stderr
    finally:
        secured.stop()


def test_short_broker_lease_is_heartbeated_from_the_start(tmp_path):
    # The broker's lease (3 s here) is shorter than the default the worker assumes before
    # ConsumeOk: heartbeats must follow the lease in force, or a 5 s task runs again.
    from brokerd_process import BrokerProcess
    import pathlib
    import subprocess
    import sys
    short = BrokerProcess(tmp_path, ("--lease-ms", "3000")).start()
    here = pathlib.Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=f"{here.parents[1] / 'client' / 'python'}:{here}", BROKERD_SERVER=short.address)
    worker = subprocess.Popen([sys.executable, "-m", "brokerd", "worker", "-A", "sample_tasks", "-c", "1",
                               "--logfile", str(tmp_path / "w.log")], env=env, cwd=here,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        app = brokerd.App(server=short.address)
        result = app.send_task("sample_tasks.sleep_then", args=[5, "once"])
        assert result.get(timeout=60) == "once"
        assert result.task_info().attempts == 1
        assert "outcome dropped" not in (tmp_path / "w.log").read_text()
        app.close()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        short.stop()


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_hard_time_limit_ends_the_task(app, start_worker, pool):
    worker = start_worker("sample_tasks", "--concurrency", "1", "--pool", pool)
    result = app.send_task("sample_tasks.hangs")
    with pytest.raises(brokerd.TaskFailed) as failed:
        result.get(timeout=30)
    assert failed.value.type == "TimeLimitExceeded"
    assert result.task_info().attempts == 1
    assert "Hard time limit (1s) exceeded" in worker.wait_log("Hard time limit")
    # The slot goes on: a new pool process, or a new thread beside the one still asleep.
    assert app.send_task("sample_tasks.add", args=[2, 2]).get(timeout=30) == 4
    assert worker.process.poll() is None


def test_soft_time_limit_raises_in_the_task(app, start_worker):
    worker = start_worker("sample_tasks", "--concurrency", "1")
    assert app.send_task("sample_tasks.cleans_up").get(timeout=30) == "cleaned up"
    assert "Soft time limit exceeded" in worker.log()


def test_worker_wide_time_limit(app, start_worker):
    start_worker("sample_tasks", "--concurrency", "1", "--time-limit", "1")
    with pytest.raises(brokerd.TaskFailed) as failed:
        app.send_task("sample_tasks.sleep_then", args=[60, "never"]).get(timeout=30)
    assert failed.value.type == "TimeLimitExceeded"


def test_warm_shutdown_does_not_wait_for_a_thread_past_its_hard_limit(app, start_worker):
    # The thread cannot be killed and sleeps on; its FAILURE was reported at the limit, so
    # a warm shutdown must not wait for it.
    worker = start_worker("sample_tasks", "--concurrency", "1", "--pool", "threads")
    with pytest.raises(brokerd.TaskFailed):
        app.send_task("sample_tasks.hangs").get(timeout=30)
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0


# ---- time limits from the producer (apply_async) ---------------------------------------------

@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_apply_async_time_limit_ends_a_hung_task(app, start_worker, pool):
    # No limit in the task (sleep_then) nor in the worker: the producer's alone.
    worker = start_worker("sample_tasks", "--concurrency", "1", "--pool", pool)
    result = app.send_task("sample_tasks.sleep_then", args=[60, "never"], time_limit=1)
    with pytest.raises(brokerd.TaskFailed) as failed:
        result.get(timeout=30)
    assert failed.value.type == "TimeLimitExceeded"
    assert result.task_info().attempts == 1
    # The worker enforced it (the broker may have ended the task at the same moment).
    assert "Hard time limit (1s) exceeded" in worker.wait_log("Hard time limit")
    assert app.send_task("sample_tasks.add", args=[2, 2]).get(timeout=30) == 4


def test_apply_async_soft_time_limit_raises_in_the_task(app, start_worker):
    worker = start_worker("sample_tasks", "--concurrency", "1")
    result = app.send_task("sample_tasks.interruptible", soft_time_limit=0.5)
    assert result.get(timeout=30) == "interrupted"
    assert "Soft time limit exceeded" in worker.log()


def test_apply_async_time_limits_override_the_tasks_and_the_workers(app, start_worker):
    # hangs has time_limit=1, the worker --time-limit 1: the call's 30 s wins for both.
    start_worker("sample_tasks", "--concurrency", "1", "--time-limit", "1")
    assert app.send_task("sample_tasks.hangs", args=[1.5], time_limit=30).get(timeout=30) == "woke up"
    assert app.send_task("sample_tasks.sleep_then", args=[1.5, "done"], time_limit=30).get(timeout=30) == "done"
    # Without it, the worker's own limit still applies.
    with pytest.raises(brokerd.TaskFailed) as failed:
        app.send_task("sample_tasks.sleep_then", args=[60, "never"]).get(timeout=30)
    assert failed.value.type == "TimeLimitExceeded"



def test_broker_ends_a_hung_workers_task_at_the_producers_time_limit(app, start_worker, tmp_path):
    # The whole worker is frozen (SIGSTOP) with a 60 s lease: only the broker can end the
    # task at its 2 s limit from apply_async, without waiting for the lease.
    worker = start_worker("sample_tasks", "--concurrency", "1", "--lease-seconds", "60")
    result = app.send_task("sample_tasks.block", args=[str(tmp_path), "hung"], time_limit=2)
    wait_for(lambda: (tmp_path / "hung.started").exists(), what="the task to start")
    worker.signal_group(signal.SIGSTOP)
    try:
        with pytest.raises(brokerd.TaskFailed) as failed:
            result.get(timeout=20)
        assert failed.value.type == "TimeLimitExceeded"
        assert result.task_info().attempts == 1
    finally:
        worker.signal_group(signal.SIGCONT)


def test_producers_time_limit_counts_from_the_delivery(app, start_worker, tmp_path):
    # One slot, busy: the second task waits in the prefetch buffer past its 1 s limit. The
    # broker ends it then (its clock starts at the delivery), and the worker, which counts
    # the same way, never starts it.
    worker = start_worker("sample_tasks", "--concurrency", "1")
    busy = app.send_task("sample_tasks.block", args=[str(tmp_path), "busy"])
    wait_for(lambda: (tmp_path / "busy.started").exists(), what="the first task to start")
    waiting = app.send_task("sample_tasks.record", args=[str(tmp_path / "ran"), "late"], time_limit=1)
    with pytest.raises(brokerd.TaskFailed) as failed:
        waiting.get(timeout=30)
    assert failed.value.type == "TimeLimitExceeded"
    (tmp_path / "busy.release").touch()
    assert busy.get(timeout=30) == "busy"
    worker.wait_log(f"sample_tasks.record[{waiting.id}] passed before it started")
    assert app.send_task("sample_tasks.add", args=[1, 1]).get(timeout=30) == 2
    assert not (tmp_path / "ran").exists()
    assert "outcome dropped by the broker" not in worker.log()
