"""Worker logging in the shape Celery users read every day:
``[2026-01-01 12:00:00,123: INFO/MainProcess] Task add[...] received``."""
from __future__ import annotations

import logging
import sys

FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
logger = logging.getLogger("brokerd.worker")


def setup_logging(level: str = "INFO", logfile: str | None = None) -> None:
    handler: logging.Handler
    if logfile:
        handler = logging.FileHandler(logfile, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
