"""What every streamtune process sets up: dying with its parent, thread names, GC,
starting children without losing a Ctrl-C, closes that cannot hang a stop, and memory let
go: code pages not run lately, the C heap's free pages."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import re
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
    """Hold back SIGINT until the block is done; it is then raised as usual. Main thread only.

    For starting a child with a ``preexec_fn`` (use :func:`child_setup`) and registering
    its cleanup: ``Popen`` then runs Python's after-fork hooks in the parent, and a SIGINT
    that came during the fork raised its KeyboardInterrupt inside one of them (logging's),
    which swallowed it: the Ctrl-C was lost. The calling thread blocks SIGINT, but the
    kernel then hands it to another thread that does not (numpy's BLAS threads, started at
    import, do not): Python's handler would still raise in this thread, mid-block (inside
    ``Popen``, the child started and unregistered). So the handler only notes it meanwhile.
    """
    noted: list[int] = []
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, lambda signum, _: noted.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # one pending here comes now
        if noted:
            signal.raise_signal(signal.SIGINT)


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


MADV_DONTNEED = 4
_MAPPING = re.compile(r"([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+ *(\S*)")
"""A ``/proc/self/smaps`` header line: start, end, permissions, path (empty: anonymous)."""


def _code_mappings() -> list[tuple[int, int, int]]:
    """(start, length, resident bytes) of every private executable mapping of a file whose
    pages were never written (no anonymous page): code, as its file holds it."""
    found: list[list[int]] = []  # start, length, resident, written
    entry: list[int] | None = None
    with open("/proc/self/smaps", encoding="utf-8", errors="replace") as smaps:
        for line in smaps:
            header = _MAPPING.match(line)
            if header is not None:
                code = header[3] == "r-xp" and header[4].startswith("/")
                start, end = int(header[1], 16), int(header[2], 16)
                entry = [start, end - start, 0, 0] if code else None
                if entry is not None:
                    found.append(entry)
                continue
            if entry is None:
                continue
            name, _, value = line.partition(":")
            if name == "Rss":
                entry[2] = int(value.split()[0]) * 1024
            elif name == "Anonymous":  # pages of its own: written (relocated, patched)
                entry[3] = int(value.split()[0])
    return [(start, length, resident) for start, length, resident, written in found
            if resident and not written]


def release_code_pages() -> int:
    """Let the resident pages of the process's code go (Linux; elsewhere nothing happens):
    those run again come back from the page cache, so code that ran only at start-up, or
    not lately, leaves RSS (embedded chdb's initialisation: ~80 of its 130 MB of code). The
    kernel reclaims such pages itself under memory pressure; this does it early, and only
    for mappings whose pages all match their file. Returns the resident bytes let go."""
    try:
        mappings = _code_mappings()
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for start, length, resident in mappings:
        if madvise(start, length, MADV_DONTNEED) == 0:
            released += resident
    log.info("%d MB of resident code let go", released >> 20)
    return released


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere
    nothing happens). A batch's working set, once freed, leaves free pages between live
    blocks that stay resident otherwise; a trim takes ~1 ms."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


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
