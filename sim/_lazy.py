"""Lazy exports for a package's `__init__` (PEP 562): a name is imported from its module the
first time it is used, so `import sim` or `python run.py` does not pay for Mesa, pandas or
matplotlib before a command needs them."""

from __future__ import annotations

import importlib


def exports(package: str, names: dict[str, str]):
    """(`__getattr__`, `__dir__`) for package `package`, whose attribute `name` is
    `names[name]` (a module relative to the package, optionally `module:attribute`)."""
    def __getattr__(name: str):
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = where.partition(":")
        value = getattr(importlib.import_module(module, package), attr or name)
        globals_of(package)[name] = value
        return value

    def __dir__():
        return sorted({*globals_of(package), *names})

    return __getattr__, __dir__


def globals_of(package: str) -> dict:
    import sys

    return vars(sys.modules[package])
