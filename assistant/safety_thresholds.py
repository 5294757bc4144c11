"""The classifier's per-category thresholds, chosen on dev for cost-sensitive triage.

A missed emergency costs far more than a false alarm (`MISS_COST`), and the false alarms the
classifier adds to the rules on dev's ordinary questions are capped (`ORDINARY_FALSE_ALARM_CAP`,
and the 999 message alone `EMERGENCY_FALSE_ALARM_CAP`).
Dev is scored as triage runs: the classifier is consulted where the rule layers found nothing
or only a medical symptom, on messages long enough for it, and not for emergency or
safeguarding on a general question (`SafetyTriage.classifier_gate`), so the thresholds fit
what the assistant will do.
"""

from __future__ import annotations

import itertools
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
# Of those, a 999 message on an ordinary question frightens a carer most: capped on its own.
EMERGENCY_FALSE_ALARM_CAP = 0.01
GRID = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99)
_NONE = len(SAFETY_PRIORITY)


@dataclass(frozen=True)
class Gate:
    """What the rule layers decided, and which categories the classifier may add."""

    rules: SafetyCategory
    classifier_may: frozenset[SafetyCategory]


class Scorer:
    """Triage's outcome and cost on dev for any thresholds, vectorised over the messages."""

    def __init__(self, probs: np.ndarray, examples: Sequence[Example], gates: Sequence[Gate]):
        self.scores = probs[:, [CLASSES.index(c) for c in SAFETY_PRIORITY]]
        self.rules = np.array([_index(g.rules) for g in gates])
        self.may = np.array([[c in g.classifier_may for c in SAFETY_PRIORITY] for g in gates])
        self.label = np.array([_index(e.label) for e in examples])
        miss = np.array([*(MISS_COST[c] for c in SAFETY_PRIORITY), 0.0])
        self.miss_cost = miss[self.label]
        calm = self.label == _NONE
        hard = np.array([e.hard_negative for e in examples])
        self.alarm_cost = np.where(
            calm, np.where(hard, HARD_NEGATIVE_FALSE_ALARM_COST, FALSE_ALARM_COST), 0.0
        )
        self.ordinary = calm & ~hard

    def outcomes(self, thresholds: Sequence[float]) -> np.ndarray:
        """Category index per message (len(SAFETY_PRIORITY) for none)."""
        reached = self.scores >= np.asarray(thresholds)
        best = np.where(reached, self.scores, -1.0).argmax(axis=1)
        allowed = reached.any(axis=1) & self.may[np.arange(len(best)), best]
        learned = np.where(allowed, best, _NONE)
        # The classifier adds only what `Gate.classifier_may` allows: more urgent than the rules.
        return np.minimum(self.rules, learned)

    def cost(self, thresholds: Sequence[float]) -> tuple[float, float, float]:
        """(total cost, share of ordinary questions alarmed, share given the 999 message)."""
        got = self.outcomes(thresholds)
        missed = (self.label != _NONE) & (got != self.label)
        alarmed = (self.label == _NONE) & (got != _NONE)
        total = float(self.miss_cost[missed].sum() + self.alarm_cost[alarmed].sum())
        if not self.ordinary.any():
            return total, 0.0, 0.0
        emergency = float((got[self.ordinary] == SAFETY_PRIORITY.index("emergency")).mean())
        return total, float(alarmed[self.ordinary].mean()), emergency


def choose_thresholds(
    probs: np.ndarray, examples: Sequence[Example], gates: Sequence[Gate]
) -> dict[SafetyCategory, float]:
    """Every combination of grid points (16 per category): the least total cost within the
    false-alarm caps; among equal costs, the highest thresholds (fewer alarms where dev cannot
    tell). With no combination within the caps, the strictest."""
    scorer = Scorer(probs, examples, gates)
    best: tuple[float, float, tuple[float, ...]] | None = None
    for combination in itertools.product(GRID, repeat=len(SAFETY_PRIORITY)):
        total, rate, emergency = scorer.cost(combination)
        if rate > ORDINARY_FALSE_ALARM_CAP or emergency > EMERGENCY_FALSE_ALARM_CAP:
            continue
        key = (total, -sum(combination), combination)
        if best is None or key < best:
            best = key
    chosen = best[2] if best else (GRID[-1],) * len(SAFETY_PRIORITY)
    return {c: float(t) for c, t in zip(SAFETY_PRIORITY, chosen, strict=True)}


def _index(category: str) -> int:
    return SAFETY_PRIORITY.index(category) if category in SAFETY_PRIORITY else _NONE
