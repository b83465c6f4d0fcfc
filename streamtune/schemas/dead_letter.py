"""The dead-letter envelope: what was received, why it was refused, and from where."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel, ConfigDict, Field

from streamtune.schemas.bounds import UtcTime

_NAMESPACE = UUID("6f1c1c56-3a51-4b7e-9a51-0d7c1a2f9e10")
FailureCategory = Literal["size", "json", "unknown_kind", "version", "validation", "processing"]


class DeadLetter(BaseModel):
    """A record that could not be processed, kept byte for byte with its reason.

    Examples
    --------
    >>> dl = DeadLetter.wrap(b"{oops", reason="event: not valid JSON", category="json",
    ...                      topic="raw.commands", partition=0, offset=7)
    >>> dl.raw_bytes()
    b'{oops'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dead_letter_id: UUID = Field(default_factory=uuid4)
    raw_b64: Annotated[str, Field(max_length=200_000)]
    reason: Annotated[str, Field(max_length=2000)]
    category: FailureCategory
    topic: Annotated[str, Field(max_length=255)]
    partition: int = Field(ge=-1)
    offset: int = Field(ge=-1)
    failed_at: UtcTime

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
    ) -> DeadLetter:
        """Build a dead letter for ``raw`` received on ``topic``/``partition``/``offset``.

        A record read from Kafka gets an id derived from its position, so a replay
        of the same offset yields the same dead letter (stored once).
        """
        ident = uuid5(_NAMESPACE, f"{topic}/{partition}/{offset}") if offset >= 0 else uuid4()
        return cls(
            dead_letter_id=ident,
            raw_b64=base64.b64encode(raw).decode("ascii"),
            reason=reason[:2000],
            category=category,
            topic=topic,
            partition=partition,
            offset=offset,
            failed_at=datetime.now(UTC),
        )

    def raw_bytes(self) -> bytes:
        """The original bytes."""
        return base64.b64decode(self.raw_b64)
