"""New-pattern alerts and variable words: a word seen with a few values stays quiet, a
genuinely new template alerts on its first line, a lone one-word variant after a hold;
a value with spaces or a list of another length is its template's, known or new, and so
is a line whose stack trace and one word before it differ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamtune.config import DetectionSettings
from streamtune.models.detection.patterns import (
    VARIANT_HOLD,
    PatternMiner,
    setting_variant,
    stack_variant,
    stretch_variant,
)
from streamtune.schemas.alerts import Alert

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILLER = "disk /dev/sda1 is 91% full"
WARM_UP = ["xinetd removing chargen", "fan speed normal", "Registering netfilter hooks",
           "not allocating divert_blk for non-ethernet device lo",
           "PCI Interrupt Link [LNKA] enabled", FILLER] * 4


def run(lines: list[str], warm_up: list[str] = WARM_UP,
        ) -> tuple[PatternMiner, dict[int, list[Alert]]]:
    """Warm up on ``warm_up`` (one line a second), then feed ``lines``; alerts by index."""
    miner = PatternMiner(DetectionSettings(pattern_warmup_events=len(warm_up)), source="w")
    raised = {}
    for i, text in enumerate(warm_up + lines):
        alerts = miner.observe("error", text, confidence=None, key=str(i),
                               at=T0 + timedelta(seconds=i))
        if alerts:
            raised[i - len(warm_up)] = alerts
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


RRD = [f"RRD_update (/var/rrds/rack{i} Nodes/cn{i}/load.rrd): illegal attempt to update "
       f"using time {100 + i}" for i in range(3)]
NODES = [f"inconsistent nodesets node-{i} 0x1f{i} <ok> node-{i + 1} 0x1f{i} <ok>"
         for i in range(3)]


def test_a_value_without_its_spaces_or_a_longer_list_is_the_known_template() -> None:
    _, raised = run(["RRD_update (/var/rrds/cn7/load.rrd): illegal attempt to update using "
                     "time 170",
                     "inconsistent nodesets node-8 0x2f <ok> node-9 0x2f <ok> node-10 0x2f <ok>",
                     "RRD_create (/var/rrds/cn7/load.rrd): failed to create the file"]
                    + [FILLER] * 2 * VARIANT_HOLD, WARM_UP + RRD + NODES)
    assert [raised[at][0].details["first_line"] for at in sorted(raised)] == [
        "RRD_create (/var/rrds/cn7/load.rrd): failed to create the file"]


def test_a_new_list_of_another_length_joins_the_new_pattern() -> None:
    _, raised = run(["degraded links node-1 0x1f <ok> node-2 0x1f <ok>",
                     "degraded links node-3 0x1f <ok> node-4 0x1f <ok> node-5 0x1f <ok>"]
                    + [FILLER] * 2 * VARIANT_HOLD)
    assert list(raised) == [0]  # the second list is the first one's pattern


def test_a_stretch_of_constants_is_not_a_variable() -> None:
    def words(template: str) -> list[str]:
        return template.split(" ")

    known = words("job <*> failed on host <*> after retries")
    assert stretch_variant(words("job <*> failed on host <*> <*> after retries"), known)
    assert not stretch_variant(words("job <*> failed on disk <*> after retries"), known)
    assert not stretch_variant(words("job <*> finished on host <*> early <*> after retries"),
                               known)


STACK = ["com.android.server.wm.WindowStateAnimator.destroySurface:2060",
         "com.android.server.wm.WindowState.destroyOrSaveSurface:2201",
         "com.android.server.wm.WindowSurfacePlacer.performSurfacePlacement:227",
         "com.android.server.wm.AppWindowToken.destroySurfaces:660"]


def surface(name: str, depth: int) -> str:
    return f"Destroying surface Surface(name={name}) called by {' '.join(STACK[:depth])}"


def test_another_stack_and_one_other_word_before_it_is_the_known_template() -> None:
    warm_up = WARM_UP + [surface("PlayerActivity", 3)] * 3
    _, raised = run([surface("InputMethod", 4), surface("MainTabActivity", 3),
                     f"Removing window Surface(name=InputMethod) called by {' '.join(STACK)}"]
                    + [FILLER] * 2 * VARIANT_HOLD, warm_up)
    assert [raised[at][0].details["first_line"][:15] for at in sorted(raised)] == [
        "Removing window"]


def test_a_stack_variant_needs_stacks_on_both_sides() -> None:
    def words(text: str) -> list[str]:
        return text.split(" ")

    assert stack_variant(words(surface("A", 3)), words(surface("B", 4)))
    assert not stack_variant(words(surface("A", 2)), words(surface("B", 2)))  # 2 frames
    assert not stack_variant(words("Destroying surface Surface(name=A) called by"),
                             words(surface("B", 3)))


def test_a_burst_of_new_settings_raises_one_alert() -> None:
    _, raised = run(["Server environment:user.dir=/", "Server environment:java.vendor=Oracle "
                     "Corporation", "Server environment:os.name=Linux",
                     "Server started on port 2181"] + [FILLER] * 2 * VARIANT_HOLD)
    assert [raised[at][0].details["first_line"] for at in sorted(raised)] == [
        "Server environment:user.dir=/", "Server started on port 2181"]


def test_a_setting_variant_keeps_its_words_and_scope() -> None:
    def words(text: str) -> list[str]:
        return text.split(" ")

    assert setting_variant(words("Server environment:user.dir=/"),
                           words("Server environment:java.vendor=Oracle Corporation"))
    assert not setting_variant(words("Server environment:user.dir=/"),
                               words("Server properties:user.dir=/tmp"))
    assert not setting_variant(words("Client environment:user.dir=/"),
                               words("Server environment:user.dir=/"))
    assert not setting_variant(words("Server environment user.dir=/"),
                               words("Server configured user.dir=/"))
