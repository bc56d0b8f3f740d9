"""Fixtures: a real brokerd per test (``broker``), an App pointed at it (``app``), and
workers run as real processes (``start_worker``)."""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "client" / "python"))
sys.path.insert(0, str(HERE))

from brokerd_process import BrokerProcess, wait_for  # noqa: E402

import brokerd  # noqa: E402


@pytest.fixture
def broker(tmp_path):
    process = BrokerProcess(tmp_path).start()
    yield process
    if process.process is not None:
        assert process.stop() == 0, f"brokerd did not stop cleanly; see {process.log_path}"


@pytest.fixture
def app(broker):
    application = brokerd.App("tests", server=broker.address, connect_timeout=20)
    yield application
    application.close()


class WorkerProcess:
    """``python3 -m brokerd worker`` in a child process, its log in a file."""

    def __init__(self, module_dir: pathlib.Path, module: str, server: str, log: pathlib.Path, args: list[str],
                 extra_env: dict):
        env = dict(os.environ)
        env.update(extra_env)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "client" / "python"), str(module_dir),
                                             env.get("PYTHONPATH", "")])
        env["BROKERD_SERVER"] = server
        self.log_path = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "brokerd", "worker", "-A", module, "--loglevel", "INFO", "--logfile", str(log),
             *args],
            # A session of its own: tests may signal its whole process group, as systemd does.
            env=env, cwd=str(module_dir), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
            stderr=open(log.with_suffix(".stderr"), "wb"))

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float = 30.0) -> str:
        return wait_for(lambda: text in self.log() and self.log(), timeout, f"{text!r} in the worker log")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        os.killpg(self.process.pid, signum)

    def wait(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_worker(broker, tmp_path):
    workers: list[WorkerProcess] = []

    def start(module: str = "sample_tasks", *args: str, server: str | None = None,
              module_dir: pathlib.Path = HERE, env: dict | None = None) -> WorkerProcess:
        """Starts ``python3 -m brokerd worker -A module`` in ``module_dir``; waits until it
        has connected."""
        log = tmp_path / f"worker-{len(workers) + 1}.log"
        worker = WorkerProcess(module_dir, module, server or broker.address, log, list(args), env or {})
        workers.append(worker)
        worker.wait_log("Connected to brokerd")
        return worker

    yield start
    for worker in workers:
        worker.stop()
