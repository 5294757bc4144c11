"""Recall on an independent labelled set (tests/data/redaction.jsonl, frozen: written by another
helper from public carers' posts, not tuned on sentence by sentence). A detail counts as caught
only if none of its characters survive."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from api.redact import find_details

SET = Path(__file__).parent.parent / "data" / "redaction.jsonl"
SHA256 = "a8bfa37ace432998db64f7fb504560724455637ef7a33773d8ab9240700a4f98"


def score() -> tuple[float, float, list[str]]:
    caught = total = kept_right = replaced = 0
    missed: list[str] = []
    for line in SET.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = row["text"]
        covered = [False] * len(text)
        for detail in find_details(text):
            covered[detail.start : detail.end] = [True] * (detail.end - detail.start)
        labelled = [False] * len(text)
        for pii in row["pii"]:
            total += 1
            starts = [i for i in range(len(text)) if text.startswith(pii["text"], i)]
            spans = [range(i, i + len(pii["text"])) for i in starts]
            for span in spans:
                for k in span:
                    labelled[k] = True
            if spans and all(covered[k] or text[k].isspace() for s in spans for k in s):
                caught += 1
            else:
                missed.append(pii["label"])
        replaced += sum(covered)
        kept_right += sum(c and g for c, g in zip(covered, labelled, strict=True))
    return caught / total, kept_right / max(replaced, 1), missed


def test_the_set_is_the_frozen_one() -> None:
    assert hashlib.sha256(SET.read_bytes()).hexdigest() == SHA256


def test_recall_on_the_independent_set(record_property: pytest.RecordProperty) -> None:
    recall, precision, missed = score()
    record_property("recall", round(recall, 4))
    record_property("precision", round(precision, 4))
    assert recall >= 0.98, f"recall {recall:.3f} (precision {precision:.3f}); missed {missed}"
    # Over-redaction is the safer mistake, but stored text must still read clearly.
    assert precision >= 0.85, f"precision {precision:.3f} (recall {recall:.3f})"
