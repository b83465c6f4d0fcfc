"""Rollout decisions on simulated paired outcomes: how often a candidate is promoted.

For each champion accuracy (0.97, 0.80) and each candidate - champion
difference (-5, -2, -1, 0, +1, +3 points) it runs the trainer's own
:class:`~streamtune.models.rollout.RolloutController` through the canary and
the 5 / 25 / 100 % stages, ``--runs`` times, with the loop's default settings
(margin 1 point, false promotion and false rollback rates 5 %). Paired outcomes
come ``--chunk`` events at a time (one trainer step), drawn so that on a share
``--agreement`` of events both models' outcomes come from one draw (they
differ only where their accuracies do) and on the rest independently: a
fine-tuned candidate mostly agrees with its champion, and 0 is the worst case.

Run: ``.venv/bin/python benchmarks/rollout.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import numpy as np

from streamtune.config import LoopSettings
from streamtune.models.rollout import RolloutController

CHAMPIONS = (0.97, 0.80)
DIFFS = (-5, -2, -1, 0, 1, 3)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def cells(champion: float, candidate: float, agreement: float) -> list[float]:
    """P(both right), P(champion only), P(candidate only), P(both wrong)."""
    together = [min(champion, candidate), max(0.0, champion - candidate),
                max(0.0, candidate - champion), 1 - max(champion, candidate)]
    apart = [champion * candidate, champion * (1 - candidate), candidate * (1 - champion),
             (1 - champion) * (1 - candidate)]
    return [agreement * t + (1 - agreement) * a for t, a in zip(together, apart, strict=True)]


def one_run(probabilities: list[float], settings: LoopSettings, chunk: int,
            rng: np.random.Generator) -> tuple[str, int]:
    """Feed pairs until the controller finishes: its final verdict and the events it took."""
    controller = RolloutController("intent_classifier", champion="v1", candidate="v2",
                                   settings=settings)
    events = 0
    while True:
        both_right, champion_only, candidate_only, both_wrong = (
            int(k) for k in rng.multinomial(chunk, probabilities))
        controller.evidence.add_pairs(both_right=both_right, champion_only=champion_only,
                                      candidate_only=candidate_only, both_wrong=both_wrong)
        events += chunk
        decision = controller.decide(NOW)
        if controller.finished:
            assert decision is not None  # noqa: S101 - finished by this decision
            undecided = "undecided" in decision.reason
            return ("deadline" if undecided else decision.decision), events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--agreement", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = LoopSettings()
    rng = np.random.default_rng(args.seed)
    print(f"margin {settings.margin * 100:.0f} point, false promotion <= "
          f"{settings.false_promotion_rate:.0%} at -{2 * settings.margin * 100:.0f} points, "
          f"false rollback <= {settings.false_rollback_rate:.0%} at 0; canary/stage minimum "
          f"{settings.canary_min_events}/{settings.stage_min_events} paired events, deadline "
          f"{settings.stage_max_events} per stage; {args.runs} runs, {args.chunk} events per "
          f"step, agreement {args.agreement}")
    print("| champion | candidate - champion | P(promote) | P(rollback) | of which deadline "
          "| median events to decision | p90 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    started = time.perf_counter()
    for champion in CHAMPIONS:
        for diff in DIFFS:
            candidate = min(1.0, max(0.0, champion + diff / 100))
            probabilities = cells(champion, candidate, args.agreement)
            runs = [one_run(probabilities, settings, args.chunk, rng) for _ in range(args.runs)]
            promoted = sum(verdict == "promote" for verdict, _ in runs) / len(runs)
            deadline = sum(verdict == "deadline" for verdict, _ in runs) / len(runs)
            events = sorted(n for _, n in runs)
            print(f"| {champion:.2f} | {diff:+d} points | {promoted:.1%} | {1 - promoted:.1%} "
                  f"| {deadline:.1%} | {statistics.median(events):,.0f} "
                  f"| {events[int(0.9 * len(events))]:,} |")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
