"""The sequential non-inferiority test: its error rates under continuous monitoring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamtune.models.rollout.sequential import NonInferiority

MARGIN, ALPHA, BETA = 0.01, 0.05, 0.05


def _cells(diff: float, discordant: float = 0.06) -> list[float]:
    """P(candidate only right), P(tie), P(champion only right) for a difference ``diff``."""
    return [(discordant + diff) / 2, 1 - discordant, (discordant - diff) / 2]


def _verdicts(diff: float, *, runs: int, events: int, chunk: int = 25,
              seed: int = 0) -> list[str | None]:
    """The first verdict of each run, read after every chunk (continuous monitoring)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(runs):
        test = NonInferiority(margin=MARGIN, alpha=ALPHA, beta=BETA)
        verdict = None
        for _ in range(events // chunk):
            c, ties, b = (int(k) for k in rng.multinomial(chunk, _cells(diff)))
            test.update(champion_only=b, candidate_only=c, ties=ties)
            if (verdict := test.verdict) is not None:
                break
        out.append(verdict)
    return out


def test_a_candidate_two_margins_worse_is_rarely_called_not_worse() -> None:
    verdicts = _verdicts(-2 * MARGIN, runs=300, events=6000)
    assert verdicts.count("not_worse") / len(verdicts) <= ALPHA
    assert verdicts.count("worse") / len(verdicts) > 0.9  # and it does get a verdict


def test_a_candidate_no_worse_is_rarely_called_worse() -> None:
    verdicts = _verdicts(0.0, runs=300, events=6000, seed=1)
    assert verdicts.count("worse") / len(verdicts) <= BETA
    assert verdicts.count("not_worse") / len(verdicts) > 0.9


def test_the_interval_covers_the_true_difference_and_narrows() -> None:
    rng = np.random.default_rng(2)
    test = NonInferiority(margin=MARGIN, alpha=ALPHA, beta=BETA)
    widths, covered = [], 0
    for _ in range(200):
        c, ties, b = (int(k) for k in rng.multinomial(50, _cells(-0.01)))
        test.update(champion_only=b, candidate_only=c, ties=ties)
        low, high = test.interval()
        covered += low < -0.01 < high
        widths.append(high - low)
    assert covered == 200  # at every look
    assert widths[-1] < widths[9] / 2 and widths[-1] < 0.03
    assert test.estimate == pytest.approx((test.counts[0] - test.counts[2]) / test.n)


def test_summary_names_the_test_its_settings_and_evidence() -> None:
    test = NonInferiority(margin=0.02, alpha=0.01, beta=0.1)
    assert test.verdict is None and test.estimate is None
    test.update(champion_only=0, candidate_only=0, ties=0)  # nothing new: no change
    assert test.n == 0
    test.update(champion_only=3, candidate_only=5, ties=92)
    summary = test.summary()
    assert summary["hypotheses"] == {"worse": "diff <= -0.0400", "not_worse": "diff >= 0"}
    assert (summary["pairs"], summary["candidate_only_right"], summary["champion_only_right"]) \
        == (100, 5, 3)
    assert summary["thresholds"] == [100.0, 10.0]
    assert summary["alpha_false_promotion"] == 0.01 and summary["beta_false_rollback"] == 0.1
    assert summary["diff_estimate"] == pytest.approx(0.02)
    json.dumps(summary)


def test_state_round_trips_to_the_same_evidence() -> None:
    test = NonInferiority(margin=MARGIN, alpha=ALPHA, beta=BETA)
    test.update(champion_only=4, candidate_only=9, ties=300)
    again = NonInferiority.from_dict(json.loads(json.dumps(test.to_dict())))
    for t in (test, again):
        t.update(champion_only=1, candidate_only=7, ties=200)
    assert again.summary() == test.summary()
    with pytest.raises(ValueError, match="grid"):
        NonInferiority.from_dict({**test.to_dict(), "log_up": [0.0]})


@pytest.mark.parametrize("kwargs", [{"margin": 0.0, "alpha": 0.05, "beta": 0.05},
                                    {"margin": 0.01, "alpha": 1.0, "beta": 0.05},
                                    {"margin": 0.01, "alpha": 0.05, "beta": 0.0}])
def test_bad_settings_and_counts_are_clear_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="non-inferiority test needs"):
        NonInferiority(**kwargs)
    with pytest.raises(ValueError, match=">= 0"):
        NonInferiority(margin=MARGIN, alpha=ALPHA, beta=BETA).update(
            champion_only=-1, candidate_only=0, ties=0)
