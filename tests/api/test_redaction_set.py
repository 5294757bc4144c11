"""Recall on an independent labelled set (tests/data/redaction.jsonl, frozen: written by another
helper from public carers' posts, not tuned on sentence by sentence). A detail counts as caught
only if none of its characters survive. `python -m bench.redaction_bench --show` gives details."""

from __future__ import annotations

import hashlib

import pytest

from bench.redaction_bench import DEFAULT_SET, score

SHA256 = "a8bfa37ace432998db64f7fb504560724455637ef7a33773d8ab9240700a4f98"


def test_the_set_is_the_frozen_one() -> None:
    assert hashlib.sha256(DEFAULT_SET.read_bytes()).hexdigest() == SHA256


def test_recall_on_the_independent_set(record_property: pytest.RecordProperty) -> None:
    result = score()
    record_property("recall", round(result.recall, 4))
    record_property("precision", round(result.precision, 4))
    summary = f"recall {result.recall:.3f}, precision {result.precision:.3f}"
    assert result.recall >= 0.98, f"{summary}; missed {[label for label, _ in result.misses]}"
    # Over-redaction is the safer mistake, but stored text must still read clearly.
    assert result.precision >= 0.85, summary
    assert result.clean_changed <= result.clean_texts // 4, summary
