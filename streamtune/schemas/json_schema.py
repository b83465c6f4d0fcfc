"""Write JSON Schema files so producers in other languages can validate events."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from streamtune.schemas.dead_letter import DeadLetter
from streamtune.schemas.events import EVENT_MODELS, SCHEMA_VERSION, Event

_BASE_URI = "https://streamtune.dev/schemas"


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one schema per event kind, one for any event, and the dead letter.

    Returns the written paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    schemas = {f"{kind}.schema.json": model.model_json_schema()
               for kind, model in EVENT_MODELS.items()}
    schemas["event.schema.json"] = TypeAdapter(Event).json_schema()
    schemas["dead_letter.schema.json"] = DeadLetter.model_json_schema()
    written = []
    for filename, schema in schemas.items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{_BASE_URI}/v{SCHEMA_VERSION}/{filename}",
            **schema,
        }
        path = directory / filename
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
