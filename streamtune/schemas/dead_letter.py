"""The dead-letter envelope: what was received, why it was refused, and from where."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel, ConfigDict, Field

from streamtune.schemas.bounds import MAX_EVENT_BYTES, UtcTime

_NAMESPACE = UUID("6f1c1c56-3a51-4b7e-9a51-0d7c1a2f9e10")
FailureCategory = Literal["size", "json", "unknown_kind", "version", "validation", "conflict",
                          "processing"]
MAX_KEPT_BYTES = MAX_EVENT_BYTES
"""A dead letter keeps at most this many bytes of its record (a prefix of longer ones)."""
MAX_REASON_CHARS = 2000


class DeadLetter(BaseModel):
    """A record that could not be processed: its (redacted) bytes, why, and from where.

    Records up to :data:`MAX_KEPT_BYTES` are kept whole; longer ones keep a prefix,
    with ``truncated`` set. ``raw_length`` and ``raw_sha256`` always describe the
    whole record as received, so a producer can match it with what it sent.

    Examples
    --------
    >>> dl = DeadLetter.wrap(b"{oops", reason="event: not valid JSON", category="json",
    ...                      topic="raw.commands", partition=0, offset=7)
    >>> dl.raw_bytes(), dl.raw_length, dl.truncated
    (b'{oops', 5, False)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dead_letter_id: UUID = Field(default_factory=uuid4)
    raw_b64: Annotated[str, Field(max_length=4 * (MAX_KEPT_BYTES // 3 + 1))]
    reason: Annotated[str, Field(max_length=MAX_REASON_CHARS)]
    category: FailureCategory
    topic: Annotated[str, Field(max_length=255)]
    partition: int = Field(ge=-1)
    offset: int = Field(ge=-1)
    failed_at: UtcTime
    raw_length: int = Field(default=0, ge=0)
    """Bytes in the whole record as received."""
    raw_sha256: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    """SHA-256 (hex) of the whole record as received."""
    truncated: bool = False
    """The kept bytes are a prefix: the record was longer than :data:`MAX_KEPT_BYTES`."""

    @classmethod
    def wrap(
        cls,
        raw: bytes,
        *,
        reason: str,
        category: FailureCategory,
        topic: str,
        partition: int = -1,
        offset: int = -1,
        redact: Callable[[bytes], bytes] | None = None,
    ) -> DeadLetter:
        """Build a dead letter for ``raw`` received on ``topic``/``partition``/``offset``.

        ``redact`` cleans the bytes kept: it sees a prefix of at most twice
        :data:`MAX_KEPT_BYTES` (so a secret is whole where the kept prefix ends),
        and the kept bytes are cut from what it returns. A record read from Kafka
        gets an id derived from its position, so a replay of the same offset
        yields the same dead letter (stored once).
        """
        window = raw[: 2 * MAX_KEPT_BYTES]
        kept = redact(window) if redact is not None else window
        truncated = len(raw) > len(window) or len(kept) > MAX_KEPT_BYTES
        return cls(
            dead_letter_id=_identity(topic, partition, offset),
            raw_b64=base64.b64encode(kept[:MAX_KEPT_BYTES]).decode("ascii"),
            reason=reason[:MAX_REASON_CHARS],
            category=category,
            topic=topic[:255],
            partition=max(partition, -1),
            offset=max(offset, -1),
            failed_at=datetime.now(UTC),
            raw_length=len(raw),
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            truncated=truncated,
        )

    @classmethod
    def minimal(cls, *, reason: str, topic: str, partition: int = -1,
                offset: int = -1) -> DeadLetter:
        """The fallback when a full dead letter could not be built: position and reason only."""
        return cls(dead_letter_id=_identity(topic, partition, offset), raw_b64="",
                   reason=reason[:MAX_REASON_CHARS], category="processing", topic=topic[:255],
                   partition=max(partition, -1), offset=max(offset, -1),
                   failed_at=datetime.now(UTC), truncated=True)

    def raw_bytes(self) -> bytes:
        """The bytes kept: the whole record, or its first :data:`MAX_KEPT_BYTES` bytes."""
        return base64.b64decode(self.raw_b64)


def _identity(topic: str, partition: int, offset: int) -> UUID:
    return uuid5(_NAMESPACE, f"{topic}/{partition}/{offset}") if offset >= 0 else uuid4()
