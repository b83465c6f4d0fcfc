"""The words of the augmentation grammar: domain synonyms, fillers, clause prepositions.

Examples
--------
>>> DEFAULT_SYNONYMS["restart"][:2]
('reboot', 'power cycle')
"""

from __future__ import annotations

DEFAULT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "restart": ("reboot", "power cycle", "cycle", "bounce", "reset"),
    "start": ("launch", "fire up", "kick off"),
    "stop": ("halt", "shut down"),
    "turn on": ("switch on", "power on"),
    "turn off": ("switch off", "power off"),
    "emergency stop": ("e-stop", "estop"),
    "kill": ("abort",),
    "open": ("unlock", "unseal"),
    "close": ("shut", "seal"),
    "set": ("adjust", "configure"),
    "change": ("modify", "alter", "update"),
    "move": ("drive", "reposition"),
    "show": ("display", "get"),
    "status": ("state", "health"),
    "check": ("inspect", "look at"),
    "run": ("execute",),
    "diagnose": ("troubleshoot",),
    "diagnostics": ("diagnostic", "health check", "self-test"),
    "test": ("probe",),
    "calibrate": ("recalibrate",),
    "export": ("download", "dump"),
    "generate": ("produce", "create", "build"),
    "report": ("summary",),
    "schedule": ("plan", "book"),
    "maintenance": ("service", "servicing", "upkeep"),
    "rotate": ("roll over",),
    "archive": ("compress",),
    "deploy": ("roll out", "release", "ship", "push"),
    "apply": ("install",),
    "rollback": ("roll back", "revert", "undo"),
    "scale": ("resize",),
    "clear": ("flush", "purge", "drain", "empty"),
    "queue": ("backlog",),
    "backup": ("back up", "snapshot"),
    "grant": ("give", "assign"),
    "access": ("rights", "permissions", "privileges"),
    "revoke": ("withdraw",),
    "remove": ("drop",),
    "disable": ("deactivate", "lock out"),
    "acknowledge": ("ack", "confirm"),
    "silence": ("mute",),
    "alarm": ("alert",),
    "threshold": ("limit",),
    "temperature": ("temp",),
    "speed": ("velocity",),
    "degrees": ("deg",),
    "replicas": ("instances", "copies"),
    "percent": ("pct",),
}
"""Domain synonym groups: head word -> alternatives (extended by ``settings.synonyms``)."""

FILLERS: tuple[str, ...] = (
    "please", "pls", "kindly", "now", "immediately", "right away", "at once", "asap",
    "thanks", "thank you", "can you", "could you", "would you", "will you",
)
"""Politeness and time phrases that do not change what a command means."""

ARTICLES: tuple[str, ...] = ("the", "a", "an")
"""Articles; dropped by the canonical form like fillers."""

MOVABLE: tuple[str, ...] = ("please", "now", "immediately")
"""Single-word fillers that may stand at either end of a command."""

CLAUSE_PREPOSITIONS: tuple[str, ...] = ("in", "after", "for", "at", "on")
"""A phrasing ending in ``<preposition> {param} [unit]`` may front that clause."""

STOPWORDS = frozenset((
    "to", "of", "on", "in", "at", "for", "with", "is", "as", "and", "me", "my", "its", "it",
    "x", "y", "z", "c", "s", "l", "min", "what", "how", "make", "sure", "up", "down", "off",
    "all", "by", "from", "into", "be", "should",
))
"""Words that do not identify a command (excluded from :meth:`Grammar.keywords`)."""
