"""The classifier's per-category thresholds, chosen on dev for cost-sensitive triage.

A missed emergency costs far more than a false alarm (`MISS_COST`), and the false alarms the
classifier adds to the rules on dev's ordinary questions are capped (`ORDINARY_FALSE_ALARM_CAP`).
Dev is scored as triage runs: the classifier is consulted only where the rule layers found
nothing, on messages long enough for it, and not for emergency or safeguarding on a general
question (`SafetyTriage.classifier_gate`), so the thresholds fit what the assistant will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.models import SAFETY_PRIORITY, SafetyCategory
from assistant.safety_classifier import CLASSES, Example

MISS_COST: dict[SafetyCategory, float] = {
    "emergency": 10.0,
    "safeguarding": 5.0,
    "carer_crisis": 5.0,
    "medical": 3.0,
}
FALSE_ALARM_COST = 1.0  # on an ordinary question
HARD_NEGATIVE_FALSE_ALARM_COST = 0.5  # alarming words used calmly, hypothetically, in the past
ORDINARY_FALSE_ALARM_CAP = 0.03
GRID = tuple(round(x, 3) for x in np.arange(0.05, 0.951, 0.025))


@dataclass(frozen=True)
class Gate:
    """What the rule layers decided, and which categories the classifier may add."""

    rules: SafetyCategory
    classifier_may: frozenset[SafetyCategory]


def outcomes(
    probs: np.ndarray, gates: Sequence[Gate], thresholds: dict[SafetyCategory, float]
) -> list[SafetyCategory]:
    """Triage's category per message, given the classifier's probabilities (CLASSES order)."""
    columns = [CLASSES.index(c) for c in SAFETY_PRIORITY]
    limits = np.array([thresholds[c] for c in SAFETY_PRIORITY])
    results: list[SafetyCategory] = []
    for row, gate in zip(probs, gates, strict=True):
        if gate.rules != "none" or not gate.classifier_may:
            results.append(gate.rules)
            continue
        scores = row[columns]
        reached = [
            (score, category)
            for score, limit, category in zip(scores, limits, SAFETY_PRIORITY, strict=True)
            if score >= limit
        ]
        best = max(reached, key=lambda item: item[0])[1] if reached else "none"
        results.append(best if best in gate.classifier_may else "none")
    return results


def cost(got: list[SafetyCategory], examples: Sequence[Example]) -> tuple[float, float]:
    """(cost, share of ordinary questions alarmed)."""
    total = 0.0
    ordinary = alarms = 0
    for category, example in zip(got, examples, strict=True):
        if example.label != "none":
            total += MISS_COST[example.label] * (category != example.label)
        elif example.hard_negative:
            total += HARD_NEGATIVE_FALSE_ALARM_COST * (category != "none")
        else:
            ordinary += 1
            alarms += category != "none"
            total += FALSE_ALARM_COST * (category != "none")
    return total, alarms / ordinary if ordinary else 0.0


def choose_thresholds(
    probs: np.ndarray, examples: Sequence[Example], gates: Sequence[Gate], rounds: int = 3
) -> dict[SafetyCategory, float]:
    """Coordinate descent over the categories: each threshold in turn moves to the middle of
    the grid points that give the least total cost within the false-alarm cap."""
    thresholds: dict[SafetyCategory, float] = dict.fromkeys(SAFETY_PRIORITY, 0.5)
    for _ in range(rounds):
        for category in SAFETY_PRIORITY:
            scored = []
            for level in GRID:
                trial = {**thresholds, category: level}
                total, rate = cost(outcomes(probs, gates, trial), examples)
                scored.append(total if rate <= ORDINARY_FALSE_ALARM_CAP else float("inf"))
            best = min(scored)
            if best == float("inf"):
                thresholds[category] = GRID[-1]
                continue
            tied = [level for level, total in zip(GRID, scored, strict=True) if total == best]
            thresholds[category] = float(tied[len(tied) // 2])
    return thresholds
