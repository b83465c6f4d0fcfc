"""The model registry: every trained model as a version with files, metadata and a card.

Versions live under ``<data_dir>/models/<name>/v<N>/`` (``model.onnx``,
``meta.json``, ``MODEL_CARD.md`` and whatever else the trainer hands over);
``aliases.json`` beside them says which is ``champion`` and ``challenger``.
Every change is appended to ``<data_dir>/models/outbox.jsonl``; the process
that owns the ClickHouse store imports it with :func:`import_outbox`, so no
second process ever opens the chdb path.
"""

from streamtune.models.registry.aliases import ALIASES, Alias
from streamtune.models.registry.registry import Registry
from streamtune.models.registry.sync import import_outbox
from streamtune.models.registry.version import ModelVersion

__all__ = ["ALIASES", "Alias", "ModelVersion", "Registry", "import_outbox"]
