"""The kernel compiled ahead of time: numba's compiler (`numba.pycc`) turns the kernel's source
(`sim.model.kernel`) into an ordinary extension module, once, into a folder of the user's own.
Loading it later takes a millisecond and needs neither numba nor LLVM in the process, where
loading numba's just-in-time kernel from its disk cache takes 0.6-1.0 s and 100 MB or more
(benchmarks/latest.txt).

The module is the same machine code from the same source, with the same signature (taken from
the arguments the Python side passes: `fast.kernel_arguments`), and it releases the GIL as the
just-in-time kernel does (`nogil`), so that the runner's threads compute at once.
`tests/test_ahead.py` checks that both write the same bytes.

Its file name carries a fingerprint of the source files it is compiled from and of the
versions that compile it (`key`): any change to them makes another file, and a stale one is
never loaded. Building needs a C compiler and Python's headers (numba compiles a few C files of
its runtime into the module); where they are missing, or the build fails, the kernel is
compiled by numba's just-in-time compiler instead (slower to start, the same results).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

#: the extension module's name (its init function is PyInit_<NAME>, whatever the file's name)
NAME = "_isf_kernel"
#: the files the compiled code depends on, relative to the `sim` package
SOURCES = ("model/kernel.py", "model/codes.py", "model/fast.py", "model/tolerance.py",
           "model/ahead.py", "rng.py", "vocabulary.py")
_SIM = Path(__file__).resolve().parents[1]


def folder() -> Path:
    """Where the compiled kernel is kept: the folder numba's cache uses for this copy of the
    package when it can write there (NUMBA_CACHE_DIR, else the package's own
    `sim/model/__pycache__`); never a shared one such as /tmp."""
    cache = os.environ.get("NUMBA_CACHE_DIR")
    return Path(cache).resolve() if cache else Path(__file__).resolve().parent / "__pycache__"


@functools.cache
def _versions() -> tuple[str, ...]:
    """Python's version, the platform, and those of the libraries that compile the kernel."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for distribution in ("numpy", "numba", "llvmlite"):
        try:
            found.append(version(distribution))
        except PackageNotFoundError:
            found.append("absent")
    return (sys.version, platform.machine(), platform.system(), *found)


def key() -> str:
    """The fingerprint of the source files (`SOURCES`) and of the compilers and libraries that
    shape the machine code: Python, numpy, numba and llvmlite, and the platform."""
    h = hashlib.sha256()
    for name in SOURCES:
        h.update(name.encode() + b"\0" + (_SIM / name).read_bytes() + b"\0")
    for part in _versions():
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:20]


def path() -> Path:
    """The compiled kernel's file for this source and these versions."""
    return folder() / f"isf_kernel-{key()}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


def load():
    """The compiled kernel (`Compiled`: `block` and `param_block`), or None if it is not built
    for this source (or its files cannot be read: then it is built again)."""
    file = path()
    try:
        spec = json.loads(_signature_file(file).read_text())
        module_spec = importlib.util.spec_from_file_location(NAME, file)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    except (ImportError, OSError, ValueError):  # not built, or damaged (a full disk)
        return None
    if not all(hasattr(module, name) for name in spec):
        return None
    return Compiled(module, spec)


class Compiled:
    """The kernel compiled ahead of time. It takes exactly the argument types it was compiled
    for, and an array of another type or layout would be read as if it were one, silently
    (unlike numba's just-in-time kernel, which compiles another version), so each call is
    checked first: a few microseconds a block."""

    def __init__(self, module, signatures: dict[str, list]):
        self.module, self.signatures = module, signatures

    def block(self, *args):
        self._check("block", args)
        self.module.block(*args)

    def param_block(self, *args):
        self._check("param_block", args)
        self.module.param_block(*args)

    def _check(self, name: str, args: tuple) -> None:
        expected = self.signatures[name]
        if len(args) != len(expected):
            raise TypeError(f"the compiled kernel's {name} takes {len(expected)} arguments, "
                            f"not {len(args)}")
        for i, (arg, want) in enumerate(zip(args, expected, strict=True)):
            got = _type_of(arg)
            if got != want:
                raise TypeError(f"the compiled kernel's {name} takes {want} as argument {i}, "
                                f"not {got}")


def _type_of(arg) -> list:
    """An argument's type as the compiled kernel sees it: an array's element type, dimensions
    and layout (C-contiguous or not), or a scalar's Python type."""
    if isinstance(arg, np.ndarray):
        return [arg.dtype.str, arg.ndim, bool(arg.flags.c_contiguous)]
    return [type(arg).__name__]


def signatures_of(arguments: dict[str, tuple]) -> dict[str, list]:
    """Each function's argument types (`_type_of`), from one call's arguments."""
    return {name: [_type_of(a) for a in args] for name, args in arguments.items()}


def _signature_file(file: Path) -> Path:
    return file.with_name(file.name.split(".")[0] + ".json")


def _failure_file() -> Path:
    return _signature_file(path()).with_suffix(".failed")


def failure() -> str | None:
    """Why the last build for this source failed (then the JIT kernel is used), or None."""
    try:
        return _failure_file().read_text().strip() or "unknown"
    except OSError:
        return None


def note_failure(error: BaseException) -> None:
    """Remember that the build failed here, so that later commands do not try again (the note
    goes with the fingerprint: a new source or version tries again)."""
    try:
        _failure_file().write_text(f"{type(error).__name__}: {error}\n")
    except OSError:
        pass


def buildable() -> bool:
    """Whether the kernel can be built ahead of time here (the tools are present, and no build
    for this source has failed)."""
    return missing_tools() is None and failure() is None


def missing_tools() -> str | None:
    """What the build needs and this machine lacks (a C compiler, Python's headers,
    setuptools), or None."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers (Python.h)"
    if importlib.util.find_spec("setuptools") is None:
        return "no setuptools"
    return None


def build(arguments: dict[str, tuple]) -> None:
    """Compile the kernel into `path()`, for arguments of the types in `arguments` (function
    name -> one call's arguments). The file appears whole or not at all (written beside it,
    then renamed); files of other fingerprints are removed. Raises on failure."""
    import warnings

    with warnings.catch_warnings():  # numba announces that pycc will move to a package
        warnings.simplefilter("ignore")
        from numba import typeof, types
        from numba.pycc import CC
        from numba.pycc import compiler as pycc_compiler

    from . import kernel

    functions = {"block": kernel._block, "param_block": kernel._param_block}
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".isf_kernel-") as tmp:
        cc = CC(NAME)
        cc.output_dir = tmp
        cc.verbose = False
        for name, function in functions.items():
            signature = types.void(*(typeof(a) for a in arguments[name]))
            cc.export(name, signature)(function.py_func)

        class _Flags(pycc_compiler.Flags):  # release the GIL while it runs, as nogil=True
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.release_gil = True

        plain, pycc_compiler.Flags = pycc_compiler.Flags, _Flags
        try:
            cc.compile()
        finally:
            pycc_compiler.Flags = plain
        built = next(Path(tmp).glob(f"{NAME}*"))
        _signature_file(Path(tmp) / target.name).write_text(
            json.dumps(signatures_of(arguments)))
        os.replace(_signature_file(Path(tmp) / target.name), _signature_file(target))
        os.replace(built, target)
    for old in target.parent.glob("isf_kernel-*"):
        if old.name.split(".")[0] != target.name.split(".")[0] and old.is_file():
            old.unlink(missing_ok=True)


# ---------------------------------------------------------------------- one build at a time


def lock_file() -> Path:
    """The lock held while the kernel compiles (`holding_lock`, and the background compile of
    `sim.model.compile`): in the compiled kernel's `folder`, a folder of the user's own, never
    a shared one such as /tmp."""
    where = folder()
    where.mkdir(parents=True, exist_ok=True)
    return where / "fast.compile.lock"


@contextlib.contextmanager
def holding_lock():
    """Hold the compile lock (waiting for a process that holds it); without a folder of our
    own, or file locks (Windows), go on without it."""
    try:
        import fcntl

        lock = open(lock_file(), "a")  # noqa: SIM115 (held across the yield)
    except (ImportError, OSError):
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def take_lock(lock) -> bool:
    """Take the lock at once if no other process holds it."""
    import fcntl

    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
