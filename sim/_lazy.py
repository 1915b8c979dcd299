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


def defer_submodule(name: str) -> None:
    """Make submodule `name` (say numpy.f2py) load only when one of its attributes is first
    used (the standard library's `importlib.util.LazyLoader`): `from package import *` then
    binds it without running it. Nothing is done if it is loaded already or cannot be found.

    The command line defers numpy.f2py: SciPy's array-API layer, which numba loads before the
    first run and scikit-learn and SALib load too, runs `from numpy import *`, and numpy lists
    f2py among its exports, so every command paid for importing the Fortran wrapper generator
    (and charset_normalizer, which it imports): 0.1-0.2 s on this machine, for a module no
    command uses."""
    import importlib.util
    import sys

    if name in sys.modules:
        return
    parent_name, _, child = name.rpartition(".")
    try:
        parent = importlib.import_module(parent_name) if parent_name else None
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return
        loader = importlib.util.LazyLoader(spec.loader)
    except (ImportError, ValueError, TypeError):  # TypeError: a loader that cannot be lazy
        return
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)  # runs nothing yet: the first attribute used does
    if parent is not None:
        setattr(parent, child, module)  # as an import would (numpy's __getattr__ is skipped)
