"""Exit statuses of every colornet command, and stopping on a signal: defined once, used by every front end.

0 everything worked, 1 some inputs failed, 2 usage was wrong, 128 + N stopped by signal N (130 Ctrl-C, 143 SIGTERM,
129 SIGHUP). SIGTERM and SIGHUP (torchrun, ``timeout``, ``docker stop``, systemd, a closed terminal) are turned into
``errors.Interrupted``, a ``KeyboardInterrupt``, so they take the same clean-up path as Ctrl-C: temporary files are
removed and finished outputs kept. A signal the parent set to be ignored (``nohup``) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import Interrupted

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130: a plain Ctrl-C

STOP_SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                     if s is not None)


def signal_status(signum: int) -> int:
    """The conventional exit status of a process stopped by signal ``signum``: 128 + signum."""
    return 128 + int(signum)


def interrupted_status(err: BaseException) -> int:
    """The exit status for an interrupt: 128 + the signal (a plain KeyboardInterrupt is Ctrl-C, 130)."""
    return err.exit_status if isinstance(err, Interrupted) else EXIT_INTERRUPTED


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While active, SIGINT/SIGTERM/SIGHUP raise ``Interrupted`` in the main thread; the previous handlers come back
    afterwards. Ignored signals stay ignored; outside the main thread (signals cannot be caught there) a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in STOP_SIGNALS:
        old = signal.getsignal(sig)
        if old is signal.SIG_IGN:
            continue
        previous[sig] = old
        signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
