"""Work done in a forked process: failures sent back whole (`portable`), processes that end with
the command that forked them (`end_with`), and a call computed in a process of its own that
ends once it has answered (`call_apart`).

A command that computes a large experiment keeps, after its runs, the memory the C library
could not give back (the runs' buffers, freed but scattered among blocks still in use: 60-90
MB at 300,000 runs after `malloc_trim`). That memory is not in use, but it stays resident
while the presentation is drawn, the command's largest moment. Computed in a process of its
own, which ends, the runs leave nothing behind (`call_apart`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool


def portable(e: BaseException, where: str = "the process apart") -> BaseException:
    """An exception that can be sent to the command and raised there: itself, with this
    process's traceback as a note ("(raised in `where`)"), or, if it cannot be sent, a
    RuntimeError that says what it was."""
    import pickle
    import traceback

    trace = "".join(traceback.format_exception(e)).rstrip()
    try:
        e.add_note(f"(raised in {where})\n{trace}")
        return pickle.loads(pickle.dumps(e))
    except Exception:  # noqa: BLE001 - any exception that does not survive pickling
        return RuntimeError(f"{type(e).__name__}: {e} (raised in {where})\n{trace}")


def end_with(command: int) -> None:
    """Have the kernel end this process when the command that forked it ends (killed, say),
    so that it never works on for nobody. Linux; elsewhere nothing is forked."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != command:  # the command had already ended
        os._exit(1)


def can_fork() -> bool:
    """Whether a process can be forked from this one: on Linux (a fork starts at once, with
    everything imported), and only while no other thread runs (a thread holding a lock when
    the fork happens would leave it held forever in the child)."""
    import sys
    import threading

    return sys.platform.startswith("linux") and threading.active_count() == 1


WHERE = "a process of its own (`forked.call_apart`)"


class ChildDied(BrokenProcessPool):
    """The process of `call_apart` ended without an answer (killed, out of memory): told as
    a worker process that died."""


def call_apart(func: Callable, *args, **kwargs):
    """`func(*args, **kwargs)` computed in a forked process that ends once it has sent back
    what it returned (pickled), or the exception it raised, which is raised here. Where no
    process can be forked (`can_fork`), or where what it prints would be lost (this process's
    output is caught inside Python, as by a notebook or a test: `_streams_are_files`), it is
    called here.

    The process shares this one's terminal: its output is as if the call were made here, and
    so is Ctrl-C: this one tells the process (which ignores the terminal's), waits until it
    has handled it (cleaned up what it was writing), then raises KeyboardInterrupt; a second
    Ctrl-C meanwhile ends it at once. It never outlives this one (`end_with`: it is
    interrupted as by Ctrl-C when this one ends). One that dies without an answer raises
    `ChildDied`."""
    if not can_fork() or not _streams_are_files():
        return func(*args, **kwargs)
    import multiprocessing as mp
    import signal

    ctx = mp.get_context("fork")
    ours, theirs = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_apart, args=(theirs, os.getpid(), func, args, kwargs),
                          name="apart")
    # Ctrl-C is held back during the fork (raised inside the fork's handlers, it was lost and
    # left a lock held: `present.Presenter`)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    except BaseException as e:
        ours.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if isinstance(e, OSError):  # no process to be had (memory, a limit): computed here
            return func(*args, **kwargs)
        raise
    finally:
        theirs.close()
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a Ctrl-C held is raised here
        try:
            failed, value = ours.recv()
        except EOFError:
            process.join()
            raise ChildDied(f"the process that computed it ended without an answer (exit code "
                            f"{process.exitcode})") from None
    except BaseException:  # Ctrl-C here, say: told to the process, which ends by itself
        process.terminate()
        _reap(process)
        raise
    finally:
        ours.close()
    process.join()
    if failed:
        raise value
    return value


def _streams_are_files() -> bool:
    """Whether this process prints to its standard output and error as files (a terminal, a
    pipe, a file), which a forked process shares; not to objects that catch the text inside
    Python, whose copies in a forked process would keep what it prints to themselves."""
    import sys

    return sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__


def _reap(process) -> None:
    """Wait until `process` has ended; a second Ctrl-C meanwhile ends it at once."""
    try:
        process.join()
    except KeyboardInterrupt:
        process.kill()
        process.join()
        raise


def _apart(conn, command: int, func, args, kwargs) -> None:
    """The process of `call_apart`. Ctrl-C reaches it once, from the command (SIGTERM, which
    raises KeyboardInterrupt here), not from the terminal too; so does the command's end."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held during the fork
    end_with(command)
    try:
        answer = (False, func(*args, **kwargs))
    except BaseException as e:  # noqa: BLE001 - every failure goes back to the command
        answer = (True, portable(e, WHERE))
    try:
        conn.send(answer)
    except (OSError, KeyboardInterrupt):  # the command is gone, or stops: nobody to answer
        pass
    except Exception as e:  # noqa: BLE001 - an answer that does not pickle is told as such
        conn.send((True, portable(e, WHERE)))
    finally:
        conn.close()
