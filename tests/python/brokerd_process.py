"""A real brokerd for the Python tests: started on a free port with a temporary data dir,
stopped (SIGTERM), killed (SIGKILL) and restarted on the same port on demand."""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
# What a sanitizer writes when it finds something: such a line in brokerd's log fails the test.
_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")


def brokerd_binary() -> str:
    binary = os.environ.get("BROKERD_BINARY") or str(REPO / "build" / "server" / "brokerd")
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"no brokerd at {binary}: build first (tools/scripts/build.sh) or set BROKERD_BINARY")
    return binary


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    """Polls ``condition`` until it returns something true, or fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class BrokerProcess:
    def __init__(self, directory: pathlib.Path, extra_args: tuple[str, ...] = ()):
        self.data_dir = directory / "data"
        self.port_file = directory / "brokerd.port"
        self.log_path = directory / "brokerd.log"
        self.extra_args = extra_args
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._log_offset = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> "BrokerProcess":
        assert self.process is None, "brokerd is already running"
        self.port_file.unlink(missing_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [brokerd_binary(), "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir),
             "--port-file", str(self.port_file), "--log-level", "debug", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def started():
            if self.process.poll() is not None:
                raise AssertionError(f"brokerd exited with {self.process.returncode}; see {self.log_path}")
            text = self.port_file.read_text().strip() if self.port_file.exists() else ""
            return int(text) if text.isdigit() and int(text) > 0 else 0

        self.port = wait_for(started, what="brokerd to listen")
        return self

    def stop(self) -> int:
        """SIGTERM and wait: the clean shutdown. Returns the exit status."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        finally:
            self.process = None
        self.check_sanitizer_reports()
        return code

    def kill(self) -> None:
        """SIGKILL: the crash."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None
        self.check_sanitizer_reports()

    def restart(self) -> None:
        """Kill -9, then start again on the same port with the same data."""
        port = self.port
        self.kill()
        self.start(port)

    def check_sanitizer_reports(self) -> None:
        if not self.log_path.exists():
            return
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            text = f.read().decode("utf-8", "replace")
        for mark in _SANITIZER_MARKS:
            if mark in text:
                start = text.index(mark)
                raise AssertionError(f"sanitizer report in brokerd's log {self.log_path}:\n{text[start:start + 8000]}")
