"""The learned safety layer: a logistic head over the bundled sentence model's embeddings.

Trained by `nurture train-safety` from the labelled messages in `safety_rules/data/` (train and
dev splits; the blind split is never read here). The artefact is a small JSON file holding the
weights, one decision threshold per category (chosen on dev for cost-sensitive recall: a missed
emergency costs far more than a false alarm), the hash of the data it was trained on and the model
that embedded it. Inference is one matrix product on the query vector the assistant already makes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.embeddings import Embedder
from assistant.models import SAFETY_PRIORITY, SafetyCategory

logger = logging.getLogger(__name__)

Split = Literal["train", "dev", "blind"]
SPLITS: tuple[Split, ...] = ("train", "dev", "blind")
# Cost-sensitive thresholds: each category's threshold is this share of one common level, so a
# possible emergency is flagged on weaker evidence than a possible medical question.
WEIGHT: dict[SafetyCategory, float] = {
    "emergency": 0.5,
    "safeguarding": 0.85,
    "carer_crisis": 0.85,
    "medical": 1.0,
}
# The common level is the lowest at which triage as a whole (rules and classifier) raises false
# alarms on at most these shares of dev's calm messages: ordinary questions, and hard negatives
# (alarming words used calmly, in training, hypothetically or about the past).
ORDINARY_FALSE_ALARM_CAP = 0.03
HARD_NEGATIVE_FALSE_ALARM_CAP = 0.35
# Inverse regularisation strength of the logistic head, chosen on dev against C = 2 and 32, a
# 256-unit MLP and k-nearest neighbours (docs/safety-triage.md).
C = 8.0


class Example(BaseModel):
    """One labelled message; `source` records where its wording or red flag came from."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    label: SafetyCategory
    source: str = Field(min_length=1)
    hard_negative: bool = False
    concept: str | None = None


def load_examples(path: Path) -> list[Example]:
    """Read a JSON-lines split; errors name the file and line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(Example.model_validate_json(line))
        except ValidationError as error:
            problem = error.errors()[0]
            field = ".".join(str(p) for p in problem["loc"]) or "line"
            raise ValueError(f"{path}:{number}: {field}: {problem['msg']}") from None
    return examples


def data_hash(data_dir: Path) -> str:
    """Hash of the train and dev splits: the artefact must have been trained on exactly these."""
    digest = hashlib.sha256()
    for split in ("train", "dev"):
        digest.update(split.encode())
        digest.update((data_dir / f"{split}.jsonl").read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SafetyClassifier:
    classes: tuple[SafetyCategory, ...]
    coef: np.ndarray  # (classes, dimension)
    intercept: np.ndarray  # (classes,)
    thresholds: dict[SafetyCategory, float]
    model: str
    data_sha256: str

    @classmethod
    def load(cls, path: Path) -> SafetyClassifier:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            classes=tuple(data["classes"]),
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=np.asarray(data["intercept"], dtype=np.float32),
            thresholds=data["thresholds"],
            model=data["model"],
            data_sha256=data["data_sha256"],
        )

    def probabilities(self, vector: np.ndarray) -> dict[SafetyCategory, float]:
        logits = self.coef @ vector.astype(np.float32) + self.intercept
        logits -= logits.max()
        exp = np.exp(logits)
        probs = exp / exp.sum()
        return {label: float(p) for label, p in zip(self.classes, probs, strict=True)}

    def decide(self, vector: np.ndarray) -> tuple[SafetyCategory, float] | None:
        """Of the categories whose probability reaches their threshold, the likeliest.

        Thresholds sit below 0.5 for recall, so "none" can be likelier and still lose."""
        probs = self.probabilities(vector)
        reached = [c for c in SAFETY_PRIORITY if probs.get(c, 0.0) >= self.thresholds.get(c, 1.0)]
        if not reached:
            return None
        best = max(reached, key=lambda c: probs[c])
        return best, probs[best]

    def to_json(self, **extra: object) -> str:
        return json.dumps(
            {
                "model": self.model,
                "data_sha256": self.data_sha256,
                "classes": list(self.classes),
                "thresholds": {k: round(v, 4) for k, v in self.thresholds.items()},
                **extra,
                "intercept": [round(float(x), 6) for x in self.intercept],
                "coef": [[round(float(x), 6) for x in row] for row in self.coef],
            },
            indent=1,
        )


def fit(
    vectors: np.ndarray, labels: list[SafetyCategory], *, seed: int = 13, c: float = 4.0
) -> tuple[tuple[SafetyCategory, ...], np.ndarray, np.ndarray]:
    """A multinomial logistic regression, class-balanced (rare categories weigh as much)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
    model.fit(vectors, labels)
    return tuple(model.classes_), model.coef_.astype(np.float32), model.intercept_


def choose_thresholds(
    classifier: SafetyClassifier,
    vectors: np.ndarray,
    examples: list[Example],
    rule_decisions: list[SafetyCategory],
) -> dict[SafetyCategory, float]:
    """The lowest common level (see WEIGHT) at which the false alarms the classifier ADDS to the
    rule layers' own (patterns and concepts, decided per dev message) stay under both caps."""
    calm = {
        hard: [i for i, e in enumerate(examples) if e.label == "none" and e.hard_negative == hard]
        for hard in (False, True)
    }
    caps = {False: ORDINARY_FALSE_ALARM_CAP, True: HARD_NEGATIVE_FALSE_ALARM_CAP}
    for level in np.linspace(0.1, 0.95, 35):
        thresholds = {c: float(level * WEIGHT[c]) for c in SAFETY_PRIORITY}
        trial = SafetyClassifier(**{**classifier.__dict__, "thresholds": thresholds})

        def rate(indices: list[int], trial: SafetyClassifier = trial) -> float:
            alarms = sum(
                rule_decisions[i] == "none" and trial.decide(vectors[i]) is not None
                for i in indices
            )
            return alarms / len(indices) if indices else 0.0

        if all(rate(calm[hard]) <= caps[hard] for hard in caps):
            return thresholds
    return dict.fromkeys(SAFETY_PRIORITY, 0.95)


def train(
    data_dir: Path,
    embedder: Embedder,
    rules: Callable[[str], SafetyCategory],
    *,
    seed: int = 13,
) -> tuple[SafetyClassifier, dict[str, object]]:
    """Fit on train, set thresholds on dev given what the `rules` layers already catch."""
    train_set = load_examples(data_dir / "train.jsonl")
    dev_set = load_examples(data_dir / "dev.jsonl")
    train_vectors = embedder.embed_documents([e.text for e in train_set])
    dev_vectors = embedder.embed_documents([e.text for e in dev_set])
    classes, coef, intercept = fit(train_vectors, [e.label for e in train_set], seed=seed, c=C)
    classifier = SafetyClassifier(
        classes=classes,
        coef=coef,
        intercept=intercept,
        thresholds={},
        model=embedder.name,
        data_sha256=data_hash(data_dir),
    )
    decided = [rules(e.text) for e in dev_set]
    thresholds = choose_thresholds(classifier, dev_vectors, dev_set, decided)
    classifier = SafetyClassifier(**{**classifier.__dict__, "thresholds": thresholds})
    counts = {split: len(s) for split, s in (("train", train_set), ("dev", dev_set))}
    return classifier, {"examples": counts, "seed": seed}
