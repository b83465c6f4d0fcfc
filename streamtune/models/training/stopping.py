"""A training that a stop request ends at its next step.

Trainings report each step to a rich ``Progress`` (the CLI shows it).
:class:`StoppingProgress` shows nothing; its ``advance`` raises
:class:`TrainingStopped` once its stop event is set, so a trainer's stop ends
the training in progress within a step, with nothing registered.
"""

from __future__ import annotations

import threading

from rich.progress import Progress, TaskID


class TrainingStopped(Exception):
    """A stop was requested during a training: nothing was registered."""


class StoppingProgress(Progress):
    """An invisible progress whose next ``advance`` after ``stop`` is set raises."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__(disable=True)
        self.stop_requested = stop

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        if self.stop_requested.is_set():
            raise TrainingStopped("a stop was requested")
        super().advance(task_id, advance)
