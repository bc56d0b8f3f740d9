"""``python3 -m brokerd worker``: the command line of the worker."""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

from brokerd.version import __version__

logger = logging.getLogger("brokerd.worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m brokerd worker",
        description="Run tasks from a brokerd broker. The broker comes from the app "
                    "(brokerd.App(server=...)), else $BROKERD_SERVER, else 127.0.0.1:7411; "
                    "tokens and TLS from BROKERD_TOKEN_FILE / BROKERD_TOKEN / BROKERD_TLS_*.")
    parser.add_argument("-A", "--app", required=True, metavar="MODULE[:ATTRIBUTE]",
                        help="module holding the brokerd.App and its tasks (e.g. -A worker)")
    parser.add_argument("-c", "--concurrency", type=_positive, default=os.cpu_count() or 1, metavar="N",
                        help="tasks run at once (default: the number of CPUs, %(default)s here)")
    parser.add_argument("-P", "--pool", choices=("prefork", "threads"), default="prefork",
                        help="prefork: one process per slot, for CPU-bound Python (default); "
                             "threads: one thread per slot, for I/O-bound tasks")
    parser.add_argument("-Q", "--queues", default="default", metavar="A,B",
                        help="comma-separated queues to take tasks from (default: default)")
    parser.add_argument("--prefetch", type=_positive, default=None, metavar="K",
                        help="deliveries held at once, running or waiting (default: 4 x concurrency, "
                             "Celery's prefetch multiplier)")
    parser.add_argument("--lease-seconds", type=float, default=0, metavar="S",
                        help="lease length asked of the broker (default: the broker's, 30 s); "
                             "heartbeats go out every third of it")
    parser.add_argument("--time-limit", type=_seconds, default=None, metavar="S",
                        help="hard time limit of tasks that set none: at S seconds the task ends FAILURE "
                             "(TimeLimitExceeded) and its pool process is killed (default: none)")
    parser.add_argument("--soft-time-limit", type=_seconds, default=None, metavar="S",
                        help="soft time limit of tasks that set none: SoftTimeLimitExceeded is raised in the task "
                             "(prefork pool only) (default: none)")
    parser.add_argument("-l", "--loglevel", default="INFO", type=str.upper,
                        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), metavar="LEVEL",
                        help="DEBUG, INFO (default), WARNING, ERROR or CRITICAL, in any case")
    parser.add_argument("-f", "--logfile", default=None, metavar="FILE", help="log here instead of stderr")
    parser.add_argument("-n", "--hostname", default="worker@%h", metavar="NAME",
                        help="this worker's name shown to operators; %%h is the host name "
                             "(default: worker@%%h)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def run_worker(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from brokerd.worker.consumer import WorkerLoop
    from brokerd.worker.loader import AppNotFound, load_app
    from brokerd.worker.logs import setup_logging
    from brokerd.worker.pool import ProcessPool, ThreadPool

    setup_logging(args.loglevel, args.logfile)
    try:
        app = load_app(args.app)
    except AppNotFound as e:
        logger.critical("%s", e)
        return 2
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    prefetch = args.prefetch or args.concurrency * 4
    hostname = args.hostname.replace("%h", socket.gethostname())
    if args.pool == "prefork":
        module = args.app.partition(":")[0]
        pool = ProcessPool(args.app, args.concurrency, args.loglevel, args.logfile, preload=[module])
    else:
        pool = ThreadPool(app, args.concurrency)
    _print_banner(app, args, hostname, queues, prefetch)
    loop = WorkerLoop(app, pool, queues=queues, prefetch=prefetch, hostname=hostname,
                      lease_ms=int(args.lease_seconds * 1000), time_limit=args.time_limit,
                      soft_time_limit=args.soft_time_limit)
    code = loop.run()
    logger.info("worker: stopped (%d succeeded, %d failed)", loop.completed, loop.failed)
    return code


def _print_banner(app, args, hostname: str, queues: list[str], prefetch: int) -> None:
    lines = [
        f" -------------- {hostname} v{__version__} (brokerd)",
        "--- ***** -----",
        "-- ******* ---- [config]",
        f"- *** --- * --- .> app:         {args.app}",
        f"- ** ---------- .> broker:      brokerd://{app.address}"
        + (" (TLS)" if app.security.tls.active else "") + (" (token)" if app.security.token else ""),
        f"- ** ---------- .> concurrency: {args.concurrency} ({args.pool})",
        f"- ** ---------- .> prefetch:    {prefetch}",
        f"- *** --- * --- .> queues:      {', '.join(queues)}",
        "-- ******* ----",
        "--- ***** -----",
        "",
        "[tasks]",
        *(f"  . {name}" for name in sorted(app.tasks)),
        "",
    ]
    text = "\n".join(lines)
    if args.logfile:
        with open(args.logfile, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text, file=sys.stderr, flush=True)
