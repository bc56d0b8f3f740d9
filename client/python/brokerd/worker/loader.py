"""Finding the app a worker serves from ``-A MODULE`` (or ``MODULE:ATTRIBUTE``), as Celery
does: the attribute named, else ``app`` or ``celery``, else the one ``brokerd.App`` in the
module."""
from __future__ import annotations

import importlib
import os
import sys

from brokerd.app import App


class AppNotFound(Exception):
    pass


def load_app(spec: str) -> App:
    module_name, _, attribute = spec.partition(":")
    # Like Celery: modules beside where the worker was started are importable.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise AppNotFound(f"cannot import {module_name!r}: {e}") from e
    if attribute:
        app = getattr(module, attribute, None)
        if not isinstance(app, App):
            raise AppNotFound(f"{module_name}.{attribute} is not a brokerd.App")
        return app
    for name in ("app", "celery"):
        if isinstance(getattr(module, name, None), App):
            return getattr(module, name)
    found = [value for value in vars(module).values() if isinstance(value, App)]
    if len(found) != 1:
        raise AppNotFound(f"module {module_name!r} has {len(found) or 'no'} brokerd.App instances; "
                          f"name one with -A {module_name}:ATTRIBUTE")
    return found[0]
