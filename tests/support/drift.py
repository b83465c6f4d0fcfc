"""What the simulator's drift (error rate and execution times changed at one event) must
raise: one alert per global signal, soon after the change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

WATCHED = ("success", "error", "execution_time")
MAX_DELAY = 1500
"""Events between the change and its alert (HDDM_A/ADWIN need a few hundred here)."""


def check_one_alert_per_signal(triggers: Mapping[str, Sequence[int]], change_at: int) -> None:
    """``triggers``: per global signal, the stream index of the event each alert names."""
    assert len(triggers.get("execution_time", ())) == 1, triggers
    assert triggers.get("success") or triggers.get("error"), triggers
    assert all(len(found) <= 1 for found in triggers.values()), triggers  # one change, one alert
    for signal, found in triggers.items():
        for trigger in found:
            assert 0 <= trigger - change_at <= MAX_DELAY, (signal, trigger)
