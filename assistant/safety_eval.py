"""`nurture eval --safety`: how triage does on the labelled safety messages, split by split.

Per category and split: recall and precision, a confusion matrix, false alarms on calm messages
(hard negatives) and on the gold set's in-scope questions, and every miss with the red flag it
was about (the data's `concept`) and which layer, if any, fired instead.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from assistant.models import SAFETY_PRIORITY, SafetyCategory
from assistant.safety import SafetyTriage
from assistant.safety_classifier import SPLITS, Example, load_split, split_files

LABELS: tuple[SafetyCategory, ...] = (*SAFETY_PRIORITY, "none")


def score_split(triage: SafetyTriage, examples: list[Example]) -> dict[str, object]:
    confusion: Counter[tuple[str, str]] = Counter()
    misses: list[dict[str, object]] = []
    false_alarms: list[dict[str, object]] = []
    timings: list[float] = []
    for example in examples:
        started = time.perf_counter()
        result = triage.triage(example.text)
        timings.append((time.perf_counter() - started) * 1000)
        confusion[(example.label, result.category)] += 1
        if example.label != "none" and result.category != example.label:
            misses.append(
                {
                    "id": example.id,
                    "text": example.text,
                    "expected": example.label,
                    "got": result.category,
                    "fired": result.matched,
                    "should_catch": example.concept,
                }
            )
        elif example.label == "none" and result.category != "none":
            false_alarms.append(
                {
                    "id": example.id,
                    "text": example.text,
                    "got": result.category,
                    "fired": result.matched,
                    "hard_negative": example.hard_negative,
                }
            )
    recall, precision = {}, {}
    for category in SAFETY_PRIORITY:
        actual = sum(v for (label, _), v in confusion.items() if label == category)
        predicted = sum(v for (_, got), v in confusion.items() if got == category)
        right = confusion[(category, category)]
        recall[category] = right / actual if actual else None
        precision[category] = right / predicted if predicted else None
    negatives = [e for e in examples if e.label == "none"]
    hard = [e for e in negatives if e.hard_negative]
    hard_alarms = sum(1 for f in false_alarms if f["hard_negative"])
    return {
        "count": len(examples),
        "recall": recall,
        "precision": precision,
        "false_alarm_rate": len(false_alarms) / len(negatives) if negatives else None,
        "hard_negative_false_alarm_rate": hard_alarms / len(hard) if hard else None,
        "confusion": {label: {got: confusion[(label, got)] for got in LABELS} for label in LABELS},
        "misses": misses,
        "false_alarms": false_alarms,
        "triage_ms_p95": float(np.percentile(timings, 95)) if timings else None,
    }


def evaluate_safety(
    triage: SafetyTriage,
    data_dir: Path,
    in_scope_questions: list[str],
    splits: tuple[str, ...] = SPLITS,
) -> dict[str, object]:
    report: dict[str, object] = {"splits": {}}
    for split in splits:
        if all(path.exists() for path in split_files(data_dir, split)):
            report["splits"][split] = score_split(triage, load_split(data_dir, split))  # type: ignore[index]
    alarms = [
        {"question": q, "got": r.category, "fired": r.matched}
        for q in in_scope_questions
        if (r := triage.triage(q)).category != "none"
    ]
    report["gold_in_scope"] = {"count": len(in_scope_questions), "false_alarms": alarms}
    return report


def summary_rows(report: dict) -> list[tuple[str, str]]:
    rows = []
    for split, scores in report["splits"].items():
        recall = "  ".join(
            f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in scores["recall"].items()
        )
        precision = "  ".join(
            f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in scores["precision"].items()
        )
        rows.append((f"{split} ({scores['count']}) recall", recall))
        rows.append((f"{split} precision", precision))
        rate, hard = scores["false_alarm_rate"], scores["hard_negative_false_alarm_rate"]
        rows.append(
            (
                f"{split} false alarms",
                f"calm messages {rate:.3f}  hard negatives {hard:.3f}"
                if rate is not None and hard is not None
                else "-",
            )
        )
        rows.append((f"{split} misses", str(len(scores["misses"]))))
    gold = report["gold_in_scope"]
    rows.append(("gold in-scope false alarms", f"{len(gold['false_alarms'])} of {gold['count']}"))
    return rows
