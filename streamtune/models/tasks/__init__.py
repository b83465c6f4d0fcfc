"""Learning tasks: how each model's examples and live inputs are built from events."""

from streamtune.models.tasks.base import Example, Stage, Task
from streamtune.models.tasks.intent import IntentTask
from streamtune.models.tasks.predictor import PredictorTask
from streamtune.models.tasks.recovery import RecoveryTask

TASKS: dict[str, Task] = {
    task.name: task for task in (IntentTask(), PredictorTask(), RecoveryTask())
}
"""Every trainable model by name."""

__all__ = ["TASKS", "Example", "IntentTask", "PredictorTask", "RecoveryTask", "Stage", "Task"]
