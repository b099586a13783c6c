"""Ending a run early without losing it: Ctrl-C / SIGTERM between steps, and a loss that is no longer a number.

Ctrl-C (or ``kill``, ``timeout``, ``docker stop``, a scheduler's SIGTERM) only *asks* the loop to stop: the step in
flight finishes (an optimiser step cut in half would leave some weights updated and others not), a checkpoint of it is
written and the run exits 130 (SIGINT) or 143 (SIGTERM) with a line saying how to continue. A second Ctrl-C stops at
once. A non-finite loss means the run diverged: every later step would only spread the NaN, and a checkpoint or an
export of such weights is garbage, so the run stops with the last finite checkpoint left as it was.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import torch

from colornet.errors import ColorNetError
from colornet.exits import EXIT_SOME_FAILED, STOP_SIGNALS, signal_status

EXIT_DIVERGED = EXIT_SOME_FAILED
EXIT_SIGNAL = {sig: signal_status(sig) for sig in STOP_SIGNALS}  # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP


class TrainingDiverged(ColorNetError, RuntimeError):
    """The loss or the weights stopped being finite numbers; nothing non-finite was saved."""


class TrainingInterrupted(ColorNetError, RuntimeError):
    """Ctrl-C or SIGTERM between steps: the progress was checkpointed (``exit_code`` 130 or 143)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class StopRequest:
    """Which signal asked the run to stop (None: none yet). Installed only in the main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """While inside, SIGINT, SIGTERM and SIGHUP set ``StopRequest.signum`` instead of killing the step in flight. A
    signal the parent set to be ignored stays ignored (``nohup colornet-train ...`` survives a closed terminal)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.signal(sig, request._handle) for sig in EXIT_SIGNAL
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def all_finite(module: torch.nn.Module) -> bool:
    """Every floating-point parameter and buffer of ``module`` is finite (what may be saved)."""
    return all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point())
