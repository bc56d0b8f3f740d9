"""``python3 -m brokerd worker -A MODULE ...``: see ``python3 -m brokerd worker --help``."""
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python3 -m brokerd worker -A MODULE [options]   (worker --help for the options)")
        return 0 if argv else 2
    if argv[0] != "worker":
        print(f"unknown command {argv[0]!r}; the command is: worker", file=sys.stderr)
        return 2
    from brokerd.worker.cli import run_worker
    return run_worker(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
