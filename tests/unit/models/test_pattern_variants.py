"""New-pattern alerts and variable words: a word seen with a few values stays quiet, a
genuinely new template alerts on its first line, a lone one-word variant after a hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamtune.config import DetectionSettings
from streamtune.models.detection.patterns import VARIANT_HOLD, PatternMiner
from streamtune.schemas.alerts import Alert

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILLER = "disk /dev/sda1 is 91% full"
WARM_UP = ["xinetd removing chargen", "fan speed normal", "Registering netfilter hooks",
           "not allocating divert_blk for non-ethernet device lo",
           "PCI Interrupt Link [LNKA] enabled", FILLER] * 4


def run(lines: list[str]) -> tuple[PatternMiner, dict[int, list[Alert]]]:
    """Warm up on ``WARM_UP`` (one line a second), then feed ``lines``; alerts by index."""
    miner = PatternMiner(DetectionSettings(pattern_warmup_events=len(WARM_UP)), source="w")
    raised = {}
    for i, text in enumerate(WARM_UP + lines):
        alerts = miner.observe("error", text, confidence=None, key=str(i),
                               at=T0 + timedelta(seconds=i))
        if alerts:
            raised[i - len(WARM_UP)] = alerts
    return miner, raised


def test_a_variable_word_with_few_values_does_not_alert() -> None:
    _, raised = run(["xinetd removing daytime", "xinetd removing echo"]
                    + [FILLER] * 3 * VARIANT_HOLD)
    assert raised == {}


def test_a_word_next_to_a_variable_value_does_not_alert() -> None:
    _, raised = run(["not allocating divert_blk for non-ethernet device sit0"]
                    + [FILLER] * 2 * VARIANT_HOLD)
    assert raised == {}


def test_a_word_one_character_from_its_sibling_does_not_alert() -> None:
    _, raised = run(["PCI Interrupt Link [LNKC] enabled"] + [FILLER] * 2 * VARIANT_HOLD)
    assert raised == {}


def test_a_new_template_alerts_on_its_first_line() -> None:
    _, raised = run(["kernel panic: not syncing", "Unregistering netfilter hooks"])
    assert sorted(raised) == [0, 1]  # a first-word variant of a short template is new
    [alert] = raised[0]
    assert alert.details["first_key"] == str(len(WARM_UP))
    assert alert.details["count"] == 1


def test_a_lone_one_word_variant_alerts_after_the_hold() -> None:
    _, raised = run(["fan speed critical"] + [FILLER] * 2 * VARIANT_HOLD)
    [(at, [alert])] = raised.items()
    assert at == VARIANT_HOLD
    assert alert.details["template"] == "fan speed critical"
    assert alert.details["first_key"] == str(len(WARM_UP))
    assert alert.details["nearest_known"] == "fan speed normal"


def test_a_held_variant_whose_word_turns_variable_never_alerts() -> None:
    _, raised = run(["fan speed critical"] + [FILLER] * (VARIANT_HOLD // 2)
                    + ["fan speed high"] + [FILLER] * 2 * VARIANT_HOLD)
    assert raised == {}
