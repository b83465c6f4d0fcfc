"""One exception base for everything streamtune raises on purpose.

A ``StreamtuneError`` carries a message a user can act on; the CLI prints it
as one line and exits non-zero, without a traceback.
"""

from __future__ import annotations


class StreamtuneError(Exception):
    """Base of every deliberate streamtune error."""

    exit_code = 1


class ConfigError(StreamtuneError):
    """A setting is missing or has a bad value."""


class UsageError(StreamtuneError):
    """A command-line argument or option has a bad value."""


class BrokerUnavailable(StreamtuneError):
    """Kafka cannot be reached, or the dev broker failed to start."""


class StoreUnavailable(StreamtuneError):
    """ClickHouse (server or chdb path) cannot be reached or opened."""


class StoreLocked(StoreUnavailable):
    """The embedded chdb path is held by another process (in practice, the worker)."""


class DatasetError(StreamtuneError):
    """A dataset cannot be built, or a snapshot named by the user does not exist."""


class InvalidEvent(StreamtuneError):
    """An event failed decoding or validation; ``reason`` names the field."""

    def __init__(self, reason: str, *, category: str = "validation") -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


class DeliveryFailed(StreamtuneError):
    """Kafka reported that one or more produced events were not delivered."""


class InputFileError(StreamtuneError):
    """A file given on the command line is missing or unreadable."""


class TrainingError(StreamtuneError):
    """A model cannot be trained (unknown name, empty split, failed parity)."""


class RegistryError(StreamtuneError):
    """A model registry operation cannot be done (bad input, no earlier champion, ...)."""


class ModelNotFound(RegistryError):
    """No such model, version, alias or model file in the registry."""
