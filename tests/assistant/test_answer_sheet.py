"""The frozen realistic question set, its fixed split, and the grading sheets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from assistant.answer_sheet import load_questions, split_of
from assistant.config import Settings
from tests.conftest import REPO, run_cli

REALISTIC = REPO / "corpus" / "eval" / "realistic-questions.jsonl"
# Frozen: written independently of the corpus (docs/question-writing-brief.md). Never edit it;
# a new set gets a new file.
REALISTIC_SHA256 = "ad88d2424163f3f4ed9b656c531c7ab7af6097b83c608adfbab38c563726ac15"
# The second set is all dev (it was graded, then used to decide what to write); each row says so.
REALISTIC_2 = REPO / "corpus" / "eval" / "realistic-questions-2.jsonl"


def test_realistic_set_is_frozen() -> None:
    assert hashlib.sha256(REALISTIC.read_bytes()).hexdigest() == REALISTIC_SHA256
    items = load_questions(REALISTIC)
    assert len(items) == 256
    assert sum(item.scope == "in" for item in items) == 220


def test_split_is_fixed_and_about_sixty_percent_dev() -> None:
    items = load_questions(REALISTIC)
    dev = [item for item in items if split_of(item.id) == "dev"]
    assert 0.55 <= len(dev) / len(items) <= 0.65
    assert split_of("rq-001") == split_of("rq-001")
    assert {split_of(item.id) for item in items} == {"dev", "held-out"}


def test_a_set_written_for_tuning_is_all_dev_whatever_the_id_hash() -> None:
    items = load_questions(REALISTIC_2)
    assert len(items) == 240 and sum(item.scope == "in" for item in items) == 200
    assert {item.assigned_split for item in items} == {"dev"}
    # Its ids alone would have put some questions in the held-out split.
    assert {split_of(item.id) for item in items} == {"dev", "held-out"}


def test_answer_sheet_for_grading(shipped_settings: Settings, tmp_path: Path) -> None:
    questions = tmp_path / "few.jsonl"
    rows = [json.loads(line) for line in REALISTIC.read_text().splitlines()[:6]]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    target = tmp_path / "sheet"
    result = run_cli(
        shipped_settings, "eval", "--answers", str(target), "--questions", str(questions)
    )
    assert result.returncode == 0, result.stderr
    written = [json.loads(line) for line in target.with_suffix(".jsonl").read_text().splitlines()]
    assert [row["id"] for row in written] == [row["id"] for row in rows]
    assert all(row["answer"] for row in written)
    summary = json.loads(target.with_suffix(".summary.json").read_text())
    assert summary["all"]["in_scope_safety_messages"] == sum(
        row["scope"] == "in" and row["safety"] != "none" for row in written
    )
    markdown = target.with_suffix(".md").read_text()
    # The grader sees the question and the answer, never the sources or the scope.
    assert rows[0]["question"] in markdown and "doc_id" not in markdown
    assert "scope" not in markdown and "basics/" not in markdown
