"""Model control: tell every running worker what to serve, through the ``model-control`` topic.

The registry's aliases are the truth about *which* versions exist and which
is champion; a :class:`Serving` message on the compacted ``model-control``
topic (key: model name) tells workers to re-read them, and carries what the
registry does not hold: the candidate under canary and the share of
sessions it serves. Workers read the topic from the beginning at start and
apply new messages between batches, so a batch is always scored by one set
of versions (no event is dropped or scored twice by a swap).

Examples
--------
>>> s = Serving("intent_classifier", champion="v3", candidate="v4", percent=5.0)
>>> Serving.from_json(s.to_json()) == s
True
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from streamtune.config import Settings, client_config
from streamtune.errors import BrokerUnavailable
from streamtune.schemas.topics import loop_topic


@dataclass(frozen=True)
class Serving:
    """What workers serve for one model: champion, candidate and its share of sessions.

    ``percent`` 0 with a candidate means shadow scoring only (the canary).
    """

    model: str
    champion: str | None
    candidate: str | None = None
    percent: float = 0.0
    reason: str = ""
    seq: int = field(default_factory=time.time_ns)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Serving:
        data = json.loads(raw)
        return cls(model=str(data["model"]), champion=data.get("champion"),
                   candidate=data.get("candidate"), percent=float(data.get("percent", 0.0)),
                   reason=str(data.get("reason", "")), seq=int(data.get("seq", 0)))


def control_topic(settings: Settings) -> str:
    return loop_topic("model-control", settings.topics.prefix)


def publish(settings: Settings, serving: Serving, *, timeout_s: float = 10.0) -> None:
    """Send ``serving`` to every worker; raise BrokerUnavailable when Kafka does not confirm."""
    producer = Producer({**client_config(settings), "enable.idempotence": True})
    producer.produce(control_topic(settings), serving.to_json(), key=serving.model.encode())
    if producer.flush(timeout_s):
        raise BrokerUnavailable(f"Kafka did not confirm the model-control message for "
                                f"{serving.model} within {timeout_s:g} s")


class ControlReader:
    """Reads every model-control message from the beginning; :meth:`poll` returns new ones.

    The partition stays paused between reads and is fetched only when its end
    offset moved (checked at most every ``CHECK_S``), so an idle reader costs
    nothing against a broker that answers empty fetches at once.
    """

    CHECK_S = 1.0

    def __init__(self, settings: Settings) -> None:
        self._consumer = Consumer({
            **client_config(settings), "group.id": f"{settings.worker_id}-model-control",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
        })
        self._tp = TopicPartition(control_topic(settings), 0, OFFSET_BEGINNING)
        self._consumer.assign([self._tp])
        self._consumer.pause([self._tp])
        self._next = 0
        self._checked = 0.0

    def poll(self, timeout_s: float = 5.0) -> list[Serving]:
        """Messages that arrived since the last call, oldest first (bad ones skipped)."""
        if time.monotonic() - self._checked < self.CHECK_S:
            return []
        self._checked = time.monotonic()
        try:
            _, high = self._consumer.get_watermark_offsets(self._tp, timeout=timeout_s,
                                                           cached=False)
        except KafkaException:
            return []
        if high <= self._next:
            return []
        out = []
        self._consumer.resume([self._tp])
        deadline = time.monotonic() + timeout_s
        try:
            while self._next < high and time.monotonic() < deadline:
                for message in self._consumer.consume(500, 0.5):
                    if message.error() is not None:
                        continue
                    self._next = (message.offset() or 0) + 1
                    try:
                        out.append(Serving.from_json(message.value() or b""))
                    except (ValueError, KeyError, TypeError):
                        continue
        finally:
            self._consumer.pause([self._tp])
        return out

    def close(self) -> None:
        self._consumer.close()
