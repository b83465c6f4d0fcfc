"""What every streamtune process sets up: dying with its parent, thread names, GC,
starting children without losing a Ctrl-C, and closes that cannot hang a stop."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from confluent_kafka import KafkaException

log = logging.getLogger(__name__)

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1


def _prctl(option: int, value: object) -> None:
    """Linux ``prctl(2)``; elsewhere (or without libc) nothing happens."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value)


def terminate_with_parent() -> None:
    """Linux: deliver SIGTERM to the calling process when its parent dies (even by SIGKILL)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold back SIGINT until the block is done; it is then raised as usual.

    For starting a child with a ``preexec_fn`` (use :func:`child_setup`) and registering
    its cleanup: ``Popen`` then runs Python's after-fork hooks in the parent, and a SIGINT
    that came during the fork raised its KeyboardInterrupt inside one of them (logging's),
    which swallowed it: the Ctrl-C was lost.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def ctrl_c_released() -> None:
    """``preexec_fn`` of a child started under :func:`ctrl_c_held`: SIGINT no longer held
    (the mask survives ``exec``)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def child_setup() -> None:
    """``preexec_fn`` of a child streamtune process: SIGINT no longer held (see
    :func:`ctrl_c_released`), SIGTERM when its parent dies."""
    ctrl_c_released()
    terminate_with_parent()


def name_thread(name: str) -> None:
    """Linux: name the calling thread as ``top -H`` and ``/proc/<pid>/task/*/comm`` show it."""
    _prctl(PR_SET_NAME, name.encode()[:15])


GC_THRESHOLDS = (50_000, 50, 1000)
"""Young-generation collections every 50k allocations instead of 700: a batch allocates
millions of short-lived objects, and the default thresholds spent 15-25 % of the
hot path's time collecting (measured with ``benchmarks/pipeline.py``)."""


def tune_gc() -> None:
    """Freeze what start-up allocated (modules, schemas) and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def stop_on_signals(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT call ``stop``: the process finishes what it is doing, then exits.

    ``stop`` runs in a thread of its own, woken through the signal wake-up fd: a Python
    signal handler runs in the main thread between two bytecodes, and one that set the
    stop's Event there deadlocked when that thread held the Event's lock (inside a wait on
    it, or in the handler of an earlier signal). The handler itself does nothing."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def handler(signum: int, frame: FrameType | None) -> None:
        """Nothing: the wake-up fd already told the stopping thread."""

    def stopping() -> None:
        while True:
            signals = os.read(read_fd, 64)
            if signal.SIGTERM in signals or signal.SIGINT in signals:
                stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    threading.Thread(target=stopping, daemon=True, name="signals").start()


def close_within(close: Callable[[], object], seconds: float, *, name: str) -> bool:
    """Run a blocking ``close`` (a Kafka consumer's waits on its group) in a daemon thread;
    False if it had not returned after ``seconds`` (the process goes on without it)."""
    closing = threading.Thread(target=close, daemon=True, name=name)
    closing.start()
    closing.join(seconds)
    return not closing.is_alive()


def close_consumer(consumer: Any, *, seconds: float = 10.0) -> bool:
    """Close a Kafka consumer at a stop without hanging it: unsubscribe first (a close
    while the group join was under way hung for over 100 s against the dev broker when the
    same static member id had just left), then close within ``seconds``."""
    with contextlib.suppress(KafkaException):
        consumer.unsubscribe()
    closed = close_within(consumer.close, seconds, name="st-closing-consumer")
    if not closed:
        log.warning("the Kafka consumer did not close within %.0f s; stopping without it",
                    seconds)
    return closed
