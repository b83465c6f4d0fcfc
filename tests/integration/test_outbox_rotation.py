"""The store outbox is emptied once every store has read it, and never loses a row doing so."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from streamtune.config import Settings
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.store import ClickHouseStore


def decision(n: int) -> dict[str, object]:
    return {"decision_id": f"intent_classifier/v{n}/canary", "time": datetime.now(UTC).isoformat(),
            "model": "intent_classifier", "candidate": f"v{n}", "champion": "v1",
            "stage": "canary", "decision": "advance", "reason": "better", "metrics": {}}


def count(store: ClickHouseStore) -> int:
    return int(store.query_rows(f"SELECT count() FROM {store.table('loop_decisions')} FINAL")[0][0])


def test_a_fully_read_outbox_past_its_size_is_emptied(settings: Settings,
                                                     store: ClickHouseStore) -> None:
    outbox = StoreOutbox(settings, rotate_bytes=2_000)
    for n in range(3):
        outbox.append("loop_decisions", decision(n))
    assert outbox.import_into(store) == 3
    assert outbox.path.exists() and outbox.path.stat().st_size < 2_000  # under the size: kept
    outbox.append_many([("loop_decisions", decision(n)) for n in range(3, 20)])
    assert outbox.import_into(store) == 17
    assert not outbox.path.exists()  # every row read and past the size: emptied
    outbox.append("loop_decisions", decision(20))
    assert outbox.import_into(store) == 1  # read from the start of the new file
    assert count(store) == 21


def test_an_outbox_another_store_has_not_read_is_kept(settings: Settings,
                                                     store: ClickHouseStore) -> None:
    outbox = StoreOutbox(settings, rotate_bytes=500)
    outbox.root.mkdir(parents=True)
    outbox.state_path.write_text('{"http://elsewhere:8123#streamtune": 0}')
    outbox.append_many([("loop_decisions", decision(n)) for n in range(10)])
    assert outbox.import_into(store) == 10
    assert outbox.path.exists()  # the other store has read nothing yet
    assert json.loads(outbox.state_path.read_text())["http://elsewhere:8123#streamtune"] == 0
    assert count(store) == 10
