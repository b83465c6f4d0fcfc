"""Inline scoring: every clean command and error event, by the served ONNX models, per batch.

For each model the batch is scored in one onnxruntime call per version.
The version that serves an event is the champion, or the candidate for the
rollout share of sessions; with a candidate present the other version is
scored too, in shadow, so the canary compares both on the same events.
Each answer becomes a prediction record (see
:class:`~streamtune.schemas.predictions.PredictionRecord`) with its version.

Truth: an intent is right when it names the executed ``command_type``, or
what a later feedback (``actual_command_type``) or correction
(``corrected_command_type``) says the user meant (the record is re-emitted); a
recovery when it names the producer's ``correction.action``; a next-command
prediction when the session's next command arrives, which re-emits the
earlier record with ``truth``/``correct`` filled (the table folds it by
identity). Extracted parameters are compared with the event's parameters.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson

from streamtune import json_bytes
from streamtune.config import Settings
from streamtune.models.rollout import in_rollout
from streamtune.models.scoring import Prediction
from streamtune.models.tasks.predictor import carry_parameters
from streamtune.schemas.bounds import uuid_text
from streamtune.schemas.events import (
    CommandEvent,
    CorrectionEvent,
    ErrorEvent,
    Event,
    FeedbackEvent,
)
from streamtune.streams.live.serving import Loaded, ServingTable, Slot

Record = dict[str, Any]
"""A prediction record as plain data (the fields of PredictionRecord)."""
_Kept = tuple[tuple[str, ...], tuple[Any, ...]]
"""An intent record as kept for the feedback that may follow: its keys (one tuple shared by
all records with the same keys) and its values, ``outputs`` as JSON bytes. 740 bytes
instead of the record's 1,268 (``benchmarks/memory.py``): up to ``scoring.max_sessions``
are kept."""
_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}
"""Each key tuple seen, shared (two: a record as scored, and as re-emitted)."""
_Parameters = bytes | tuple[tuple[str, Any], ...] | None
"""A command's parameters as a history keeps them: JSON bytes, or (name, value) pairs when
orjson cannot write them (an integer beyond 64 bits, a lone surrogate); None: none."""
_Step = tuple[str, bool, _Parameters]
"""A session's command as its history keeps it: type, success, parameters. Small, since up
to ``scoring.max_sessions`` histories are kept (``benchmarks/memory.py``)."""


class InlineScorer:
    """Scores batches with what :class:`ServingTable` serves; keeps per-session history."""

    def __init__(self, settings: Settings, serving: ServingTable, *, worker: str) -> None:
        self.serving = serving
        self.worker = worker
        self.history_len = settings.scoring.history
        self.max_sessions = settings.scoring.max_sessions
        self._history: OrderedDict[str, tuple[_Step, ...]] = OrderedDict()
        self._pending: dict[str, list[Record]] = {}
        """Next-command predictions per session, waiting for the truth."""
        self._intents: OrderedDict[str, list[_Kept]] = OrderedDict()
        """Recent intent records by event_id, for feedback and corrections that follow."""

    def score(self, events: Sequence[Event]) -> list[Record]:
        """Prediction records for a batch (served and shadow), plus resolved earlier ones."""
        commands = [e for e in events if isinstance(e, CommandEvent)]
        errors = [e for e in events if isinstance(e, ErrorEvent)]
        slots = self.serving.slots
        loaded = {name for name, slot in slots.items() if slot.champion is not None}
        out: list[Record] = []
        if commands and "intent_classifier" in loaded:
            out += self._classify("intent_classifier", slots["intent_classifier"], commands,
                                  [_intent_input(e) for e in commands],
                                  [e.command_type for e in commands])
        if errors and "error_recovery" in loaded:
            out += self._classify("error_recovery", slots["error_recovery"], errors,
                                  [_error_input(e) for e in errors],
                                  [str(e.correction.get("action") or "") for e in errors])
        if commands and "parameter_extractor" in loaded:
            out += self._extract(slots["parameter_extractor"], commands)
        if commands and "command_predictor" in slots:
            out += self._predict_next(slots["command_predictor"], commands)
        self._remember_intents(out)
        out += self._corrected([e for e in events if isinstance(e, FeedbackEvent
                                                                  | CorrectionEvent)])
        return out

    def kept(self) -> dict[str, int]:
        """Entries kept in memory: sessions with a history, commands with intent records."""
        return {"sessions": len(self._history), "intent_records": len(self._intents)}

    def _remember_intents(self, records: list[Record]) -> None:
        for record in records:
            if record["model"] == "intent_classifier":
                self._intents.setdefault(record["event_id"], []).append(_kept(record))
        while len(self._intents) > self.max_sessions:
            self._intents.popitem(last=False)

    def _corrected(self, events: Sequence[FeedbackEvent | CorrectionEvent]) -> list[Record]:
        """Intent records of earlier commands, re-emitted with the truth users gave later."""
        out = []
        for event in events:
            meant = (event.corrected_command_type if isinstance(event, CorrectionEvent)
                     else event.actual_command_type)
            kept = self._intents.get(uuid_text(event.refers_to), []) if meant else []
            for i, compact in enumerate(kept):
                earlier = _record_of(compact)
                again = {**earlier, "truth": meant, "correct": int(earlier["label"] == meant),
                         "replaces": earlier["correct"], "reemitted": True}
                kept[i] = _kept(again)
                out.append(again)
        return out

    # -- per model -----------------------------------------------------------------------

    def _classify(self, model: str, slot: Slot, events: Sequence[Event],
                  inputs: list[dict[str, Any]], truths: list[str]) -> list[Record]:
        out = []
        for loaded, served in _versions(slot, events):
            started = time.perf_counter()
            answers = loaded.scorer.predict(inputs)
            latency = _per_event_us(started, len(events))
            head = loaded.scorer.heads[0]
            for event, answer, truth, is_served in zip(events, answers, truths, served,
                                                       strict=True):
                first = answer[head]
                out.append(self._record(
                    event, model, loaded, is_served, slot, label=first.label,
                    confidence=first.confidence, truth=truth, latency_us=latency,
                    outputs={h: _output(p) for h, p in answer.items()},
                    text=_text(event)))
        return out

    def _extract(self, slot: Slot, commands: Sequence[CommandEvent]) -> list[Record]:
        out = []
        texts = [_text(e) for e in commands]
        for loaded, served in _versions(slot, commands):
            started = time.perf_counter()
            spans = loaded.scorer.extract(texts)
            latency = _per_event_us(started, len(commands))
            for event, found, is_served in zip(commands, spans, served, strict=True):
                values = {s.name: s.value for s in found}
                truth = _flat(event.parameters)
                label = _flat(values)
                confidence = min((s.confidence for s in found), default=1.0)
                out.append(self._record(
                    event, "parameter_extractor", loaded, is_served, slot, label=label,
                    confidence=confidence, truth=truth, latency_us=latency,
                    outputs={"parameters": values}, text=_text(event)))
        return out

    def _predict_next(self, slot: Slot, commands: Sequence[CommandEvent]) -> list[Record]:
        out: list[Record] = []
        histories, following = [], [""] * len(commands)
        last_of: dict[str, int] = {}
        for i, event in enumerate(commands):
            if event.session_id in last_of:  # the truth of the session's previous command
                following[last_of[event.session_id]] = event.command_type
            else:  # resolve what the session's last command of an earlier batch predicted
                for earlier in self._pending.pop(event.session_id, []):
                    out.append({**earlier, "truth": event.command_type,
                                "correct": int(earlier["label"] == event.command_type)})
            last_of[event.session_id] = i
            histories.append(self._remember(event))
        versions = _versions(slot, commands)  # none before a champion: history kept all the same
        readable = [_readable(h, e) for h, e in zip(histories, commands, strict=True)
                    ] if versions else []
        inputs = [{"history": h, "context": e.context}
                  for h, e in zip(readable, commands, strict=False)]
        for loaded, served in versions:
            started = time.perf_counter()
            answers = loaded.scorer.predict(inputs)
            latency = _per_event_us(started, len(commands))
            for i, (event, answer) in enumerate(zip(commands, answers, strict=True)):
                best = answer["next_command"]
                record = self._record(
                    event, "command_predictor", loaded, served[i], slot, label=best.label,
                    confidence=best.confidence, truth=following[i], latency_us=latency,
                    text=_text(event), outputs={
                        "next_command": best.label,
                        "parameters": carry_parameters(readable[i], best.label)})
                out.append(record)
                if last_of[event.session_id] == i:
                    self._pending.setdefault(event.session_id, []).append(record)
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _remember(self, event: CommandEvent) -> tuple[_Step, ...]:
        """Add ``event`` to its session's history; return the history it ends."""
        step = (sys.intern(event.command_type), event.success, _kept_parameters(event.parameters))
        history = (*self._history.pop(event.session_id, ()), step)[-self.history_len:]
        self._history[event.session_id] = history
        while len(self._history) > self.max_sessions:
            oldest, _ = self._history.popitem(last=False)
            self._pending.pop(oldest, None)
        return history

    def _record(self, event: Event, model: str, loaded: Loaded, served: bool, slot: Slot, *,
                label: str, confidence: float, truth: str, latency_us: int,
                outputs: dict[str, Any], text: str) -> Record:
        is_candidate = slot.candidate is not None and loaded is slot.candidate
        role = ("challenger" if is_candidate else "champion") if served else "shadow"
        return {
            "event_id": uuid_text(event.event_id), "session_id": event.session_id,
            "event_time": event.event_time, "kind": event.kind,
            "command_type": _command_type(event), "input": text, "model": model,
            "version": loaded.version, "role": role, "served": served, "label": label,
            "confidence": min(max(float(confidence), 0.0), 1.0), "outputs": outputs,
            "truth": truth, "correct": -1 if not truth else int(label == truth),
            "latency_us": latency_us, "worker": self.worker,
        }


def _kept(record: Record) -> _Kept:
    keys = tuple(record)
    keys = _KEYS.setdefault(keys, keys)
    return keys, tuple(json_bytes.dumps(v) if k == "outputs" else v
                       for k, v in zip(keys, record.values(), strict=True))


def _record_of(kept: _Kept) -> Record:
    keys, values = kept
    record = dict(zip(keys, values, strict=True))
    record["outputs"] = orjson.loads(record["outputs"])
    return record


def _output(prediction: Prediction) -> dict[str, Any]:
    """One head's answer in a scored record; ``out_of_scope`` only when flagged."""
    out: dict[str, Any] = {"label": prediction.label,
                           "confidence": round(prediction.confidence, 5)}
    if prediction.out_of_scope:
        out["out_of_scope"] = True
    return out


def _versions(slot: Slot, events: Sequence[Event]) -> list[tuple[Loaded, list[bool]]]:
    """Each loaded version with, per event, whether it serves that event."""
    if slot.champion is None:
        return []
    if slot.candidate is None:
        return [(slot.champion, [True] * len(events))]
    salt = slot.candidate.version
    to_candidate = [in_rollout(e.session_id, slot.percent, salt=salt) for e in events]
    return [(slot.champion, [not c for c in to_candidate]), (slot.candidate, to_candidate)]


def _per_event_us(started: float, count: int) -> int:
    return int((time.perf_counter() - started) * 1e6 / max(count, 1))


def _intent_input(event: CommandEvent) -> dict[str, Any]:
    return {"normalized_input": event.normalized_input, "raw_input": event.raw_input,
            "context": event.context}


def _error_input(event: ErrorEvent) -> dict[str, Any]:
    return {"error_message": event.error_message, "failed_command": event.failed_command,
            "error_type": event.error_type}


def _text(event: Event) -> str:
    if isinstance(event, CommandEvent):
        return event.normalized_input or event.raw_input
    if isinstance(event, ErrorEvent):
        return event.error_message
    return ""


def _command_type(event: Event) -> str:
    if isinstance(event, CommandEvent):
        return event.command_type
    if isinstance(event, ErrorEvent):
        failed = event.failed_command.get("command_type")
        return failed if isinstance(failed, str) else ""
    return ""


def _flat(parameters: dict[str, Any]) -> str:
    """Parameters as one comparable string: ``name=value`` pairs sorted by name."""
    return ",".join(f"{k}={parameters[k]}" for k in sorted(parameters))


def _kept_parameters(parameters: dict[str, Any]) -> _Parameters:
    """``parameters`` as a history keeps them: JSON bytes (about half the size of pairs)."""
    if not parameters:
        return None
    try:
        return json_bytes.dumps(parameters)
    except orjson.JSONEncodeError:
        return tuple(parameters.items())


def _parameters(kept: _Parameters) -> dict[str, Any]:
    """The parameters a history kept, as a dict again."""
    if kept is None:
        return {}
    return orjson.loads(kept) if isinstance(kept, bytes) else dict(kept)


def _readable(history: tuple[_Step, ...], event: CommandEvent) -> list[dict[str, Any]]:
    """A history as the predictor reads it (``event``, its last command, gives the text)."""
    out: list[dict[str, Any]] = [{"command_type": command_type, "success": success,
                                  "parameters": _parameters(parameters)}
                                 for command_type, success, parameters in history]
    out[-1]["normalized_input"] = event.normalized_input or ""
    return out
