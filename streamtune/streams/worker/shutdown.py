"""How a worker stops on SIGTERM or Ctrl-C: within a container's grace period, Kafka
there or not.

faust stops its app before the app's dependencies, and the app's stop commits the
window agent's offsets and flushes its producer: with Kafka away both wait for it
without end, so the ingest loop (a dependency) was never told to stop and the
worker outlived docker's 10 s grace. Here the signal stops the ingest loop at once,
and faust gets :data:`FAUST_STOP_S` to stop. Past that it is left behind: the window
agent's last offsets stay uncommitted (it reads those deltas again after a restart
and folds them away, see ``WindowAgent``), and :func:`exit_now` ends the process once
the store is closed, since faust's consumer thread would keep it alive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import faust
from mode.utils.futures import maybe_cancel

log = logging.getLogger(__name__)
FAUST_STOP_S = 4.0
"""How long faust may take to stop after the signal before it is left behind."""


class StoppingWorker(faust.Worker):
    """A faust worker that calls ``on_signal`` first and bounds faust's own stop."""

    def __init__(self, app: faust.App, *, on_signal: Callable[[], None],
                 **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._on_signal = on_signal
        self.left_behind = False

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        self._on_signal()
        super()._schedule_shutdown(signal)

    async def _stop_on_signal(self, signal: signal.Signals) -> None:
        log.info("%s received: stopping", signal.name)
        try:
            await asyncio.wait_for(asyncio.shield(self.stop()), FAUST_STOP_S)
        except TimeoutError:
            self.left_behind = True
            log.warning("faust did not stop within %.0f s (Kafka away?): leaving it behind; "
                        "the window agent reads its last deltas again after a restart",
                        FAUST_STOP_S)
        maybe_cancel(self._starting_fut)

    def stop_and_shutdown(self) -> None:
        """faust's, unless it was left behind: its tasks are then not cancelled one by one
        (each would log a traceback); :func:`exit_now` ends them with the process."""
        if self._signal_stop_future is not None and not self._signal_stop_future.done():
            self.loop.run_until_complete(self._signal_stop_future)
        if not self.left_behind:
            super().stop_and_shutdown()


def exit_now(code: int) -> None:
    """End the process without waiting for threads left behind (logs flushed first)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
