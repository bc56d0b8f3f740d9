"""The producer API against a real brokerd: enqueue, read state, wait, revoke, errors."""
import asyncio
import datetime

import pytest

import brokerd
from brokerd import states


def test_direct_call_runs_the_function_here(app):
    @app.task
    def add(x, y):
        return x + y

    assert add(4, 4) == 8
    assert add.run(4, 4) == 8
    assert add.name == "test_producer.add"
    assert app.tasks["test_producer.add"] is add


def test_delay_enqueues_durably_and_reports_queued(app):
    @app.task(name="nobody.runs.this")
    def add(x, y):
        return x + y

    result = add.delay(2, 3)
    assert isinstance(result, brokerd.AsyncResult)
    assert result.state == states.QUEUED
    assert result.status == states.QUEUED
    info = result.task_info()
    assert (info.name, info.args, info.kwargs, info.queue) == ("nobody.runs.this", [2, 3], {}, "default")
    assert not result.ready()
    assert result.result is None


def test_apply_async_options_reach_the_broker(app):
    result = app.send_task("t.any", args=[1], kwargs={"k": "v"}, queue="math", priority=7, task_id="my-id-1",
                           max_retries=5, result_ttl=60)
    assert result.id == "my-id-1"
    info = result.task_info()
    assert (info.queue, info.priority, info.max_retries, info.kwargs) == ("math", 7, 5, {"k": "v"})


def test_countdown_and_eta_show_scheduled(app):
    later = app.send_task("t.any", countdown=60)
    assert later.state == states.SCHEDULED
    eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    at = app.send_task("t.any", eta=eta)
    info = at.task_info()
    assert info.state == states.SCHEDULED
    assert abs(info.due_ms - eta.timestamp() * 1000) < 5


def test_unknown_id_is_not_found_never_pending(app):
    unknown = app.AsyncResult("never-enqueued")
    with pytest.raises(brokerd.TaskNotFound):
        unknown.state
    with pytest.raises(brokerd.TaskNotFound):
        unknown.get(timeout=1)
    assert brokerd.TaskNotFound("x").code == "NOT_FOUND"


def test_get_times_out_with_a_timeout_error(app):
    result = app.send_task("t.nobody-runs-this")
    with pytest.raises(TimeoutError):
        result.get(timeout=0.2)
    with pytest.raises(brokerd.TimeoutError):
        result.get(timeout=0.2)
    assert result.state == states.QUEUED


def test_revoke_then_get_raises_revoked(app):
    result = app.send_task("t.any", countdown=60)
    assert result.revoke() == states.REVOKED
    assert result.state == states.REVOKED
    with pytest.raises(brokerd.TaskRevokedError):
        result.get(timeout=5)
    assert isinstance(result.get(timeout=5, propagate=False), brokerd.TaskRevokedError)


def test_idempotent_task_id(app):
    first = app.send_task("t.any", args=[1], task_id="same-id")
    again = app.send_task("t.any", args=[2], task_id="same-id")
    assert first.id == again.id == "same-id"
    assert again.task_info().args == [1]


def test_arguments_must_be_json(app):
    with pytest.raises(TypeError, match="JSON"):
        app.send_task("t.any", args=[object()])
    with pytest.raises(TypeError, match="JSON"):
        app.send_task("t.any", args=[float("nan")])
    with pytest.raises(TypeError, match="unsupported option"):
        app.send_task("t.any", expires=10)
    with pytest.raises(ValueError, match="priority"):
        app.send_task("t.any", priority=10)


def test_broker_validation_errors_are_typed(app):
    with pytest.raises(brokerd.InvalidArgument, match="queue"):
        app.send_task("t.any", queue="bad queue name")


def test_batch_is_one_request(app):
    @app.task(name="t.batch")
    def task(x):
        return x

    results = app.send_batch([task.s(i) for i in range(50)])
    assert len(results) == 50
    assert all(r.state == states.QUEUED for r in results)
    assert app.control.queues()["default"]["ready"] == 50


def test_asyncio_forms(app):
    @app.task(name="t.async")
    def task(x):
        return x

    async def scenario():
        results = await asyncio.gather(*(task.adelay(i) for i in range(200)))
        assert len({r.id for r in results}) == 200
        assert await results[0].astate() == states.QUEUED
        assert not await results[0].aready()
        with pytest.raises(brokerd.TimeoutError):
            await results[0].aget(timeout=0.1)
        assert await results[1].arevoke() == states.REVOKED
        with pytest.raises(brokerd.TaskRevokedError):
            await results[1].aget(timeout=5)
        with pytest.raises(brokerd.TaskNotFound):
            await app.AsyncResult("nope").astate()
        other = await app.asend_task("t.other", args=[1], countdown=30)
        assert (await other.atask_info()).state == states.SCHEDULED

    asyncio.run(scenario())


def test_requests_survive_a_broker_restart(app, broker):
    before = app.send_task("t.any", args=[1])
    broker.restart()  # kill -9 and start again on the same port
    assert before.state == states.QUEUED  # the confirmed enqueue survived; the app reconnected
    after = app.send_task("t.any", args=[2])
    assert after.state == states.QUEUED


def test_unreachable_broker_raises_unavailable():
    lonely = brokerd.App(server="127.0.0.1:1", connect_timeout=0.2)
    with pytest.raises(brokerd.BrokerUnavailable):
        lonely.send_task("t.any")


def test_events_stream_sees_enqueues(app):
    with app.events(queues=["evq"]) as stream:
        sent = app.send_task("t.any", queue="evq")
        event = stream.get(timeout=10)
        assert event is not None
        assert (event.kind, event.task_id, event.queue) == ("TASK_ENQUEUED", sent.id, "evq")


def test_keepalive_holds_an_idle_connection_open(tmp_path):
    from brokerd_process import BrokerProcess
    broker = BrokerProcess(tmp_path, ("--idle-timeout-s", "2")).start()
    try:
        app = brokerd.App(server=broker.address)
        app.ping()
        connection = app._client.connection()
        assert connection.hello_ok.idle_timeout_ms == 2000
        # Idle for more than twice the server's timeout: the client's pings (every third
        # of it) keep the same connection open.
        assert not connection.closed.wait(5)
        app.ping()
        assert app._client.connection() is connection
        app.close()
    finally:
        broker.stop()


def test_send_many_pipelines_individual_requests(app):
    @app.task(name="t.many")
    def task(x):
        return x

    results = app.send_many((task.s(i) for i in range(3000)), window=64)
    assert len(results) == 3000 and len({r.id for r in results}) == 3000
    assert results[1234].task_info().args == [1234]
    assert app.control.queues()["default"]["ready"] == 3000
    # Not all or nothing: the valid ones are in, and the first error is raised.
    with pytest.raises(brokerd.InvalidArgument):
        app.send_many([task.s(1), task.s(2).__class__(task, (3,), options={"queue": "bad queue"})])
    assert app.control.queues()["default"]["ready"] == 3001


def _record(app, result):
    """The broker's raw TaskRecord (TaskInfo does not show the time limits)."""
    from brokerd.result import _get_task
    return app._client.call(_get_task(result.id)).task_info.task


def test_time_limits_and_max_deliveries_reach_the_broker_by_every_path(app):
    @app.task(name="t.limits", time_limit=5, soft_time_limit=4)
    def task(x):
        return x

    def fields(result):
        record = _record(app, result)
        return record.time_limit_ms, record.soft_time_limit_ms, record.max_deliveries

    given = {"time_limit": 2.5, "soft_time_limit": 1, "max_deliveries": 3}
    expected = (2500, 1000, 3)
    # The task's own limits are the worker's business: not sent.
    assert fields(task.delay(1)) == (0, 0, 0)
    assert fields(task.apply_async((1,), **given)) == expected
    assert fields(app.send_task("t.limits", args=[1], **given)) == expected
    assert fields(task.s(1).set(**given).apply_async()) == expected
    assert [fields(r) for r in app.send_batch([task.s(1).set(**given), task.s(2)])] == [expected, (0, 0, 0)]
    assert [fields(r) for r in app.send_many([task.s(1), task.s(2).set(**given)])] == [(0, 0, 0), expected]

    async def scenario():
        return [await task.aapply_async((1,), **given), await app.asend_task("t.limits", args=[1], **given),
                *await app.asend_batch([task.s(1).set(**given)])]

    assert [fields(r) for r in asyncio.run(scenario())] == [expected] * 3


def test_broker_refuses_limits_the_client_would_not_send(app):
    # The client's checks (ValueError before sending) match the broker's: bypassed here.
    from brokerd._wire import pb

    def enqueue(**fields):
        envelope = pb.Envelope()
        from brokerd.task_spec import build_spec
        build_spec("t.any", (), None, {}, envelope.enqueue.task)
        for name, value in fields.items():
            setattr(envelope.enqueue.task, name, value)
        return app._client.call(envelope)

    with pytest.raises(brokerd.InvalidArgument, match="soft_time_limit_ms"):
        enqueue(time_limit_ms=1000, soft_time_limit_ms=2000)
    with pytest.raises(brokerd.InvalidArgument, match="time_limit_ms"):
        enqueue(time_limit_ms=-1)
    with pytest.raises(brokerd.InvalidArgument, match="max_deliveries"):
        enqueue(max_deliveries=1001)
    with pytest.raises(ValueError, match="soft_time_limit"):
        app.send_task("t.any", time_limit=1, soft_time_limit=2)
