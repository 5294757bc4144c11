"""The gold question set is well formed, and the shipped library meets its quality bar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from assistant.config import Settings
from assistant.evaluate import GoldSet, evaluate
from assistant.service import Assistant
from ingest.load import document_ids
from tests.conftest import REPO, run_cli

QUESTIONS = REPO / "corpus" / "eval" / "questions.yaml"


def test_gold_set_schema_and_document_ids() -> None:
    gold = GoldSet.load(QUESTIONS)
    assert len(gold.in_scope) >= 80
    assert len(gold.out_of_scope) >= 25
    assert len(gold.safety) >= 40
    assert gold.unknown_documents(document_ids(REPO / "corpus")) == []
    assert gold.unknown_documents({"guidance/other"})
    categories = {item.category for item in gold.safety}
    assert categories == {"emergency", "safeguarding", "carer_crisis", "medical"}
    questions = [item.question for item in gold.in_scope + gold.out_of_scope + gold.safety]
    assert len(questions) == len(set(questions)), "a question appears twice"


def test_shipped_library_meets_the_bar(shipped_assistant: Assistant) -> None:
    report = evaluate(shipped_assistant, GoldSet.load(QUESTIONS))
    assert report["retrieval"]["hybrid"]["recall@5"] >= 0.95
    assert all(value == 1.0 for value in report["triage"]["recall"].values()), report["triage"]
    # The rules raise no emergency on an in-scope question; the classifier, tuned for recall
    # (docs/safety-triage.md), raises a few on health questions asked calmly. Held under 1.5%.
    in_scope = report["counts"]["in_scope"]
    assert report["triage"]["emergency_false_alarms"] <= 0.015 * in_scope, report["triage"]
    assert report["triage"]["false_alarms"] <= 0.06 * in_scope, report["triage"]
    assert report["citations"]["validity"] == 1.0, report["citations"]["problems"]
    assert report["abstention"]["recall"] >= 0.80, report["abstention"]


@pytest.mark.xfail(
    strict=True,
    reason="known shortfall (issue 11): 54 of 63 gold out-of-scope questions declined (0.86) "
    "since the library grew into pets, hair and adoption; the target is 0.90",
)
def test_nine_in_ten_gold_out_of_scope_questions_are_declined(
    shipped_assistant: Assistant,
) -> None:
    out = GoldSet.load(QUESTIONS).out_of_scope
    declined = sum(shipped_assistant.ask(item.question).abstained for item in out)
    assert declined >= 0.90 * len(out)


def test_eval_and_ask_commands(shipped_settings: Settings, tmp_path: Path) -> None:
    # The command on a slice of the gold set: the whole set's bar is checked in process above.
    gold = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    questions = tmp_path / "questions.yaml"
    questions.write_text(yaml.safe_dump({part: items[:6] for part, items in gold.items()}))
    out = tmp_path / "report.json"
    result = run_cli(shipped_settings, "eval", "--questions", str(questions), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "recall@5" in result.stdout and "citation validity" in result.stdout
    report = json.loads(out.read_text())
    assert set(report["retrieval"]) >= {"dense", "lexical", "hybrid_rrf", "hybrid_weighted"}
    assert report["counts"]["in_scope"] == 6

    asked = run_cli(shipped_settings, "ask", "--json", "what is serve and return")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["citations"] and "[1]" in answer["answer"]
    plain = run_cli(shipped_settings, "ask", "what is serve and return")
    assert "Sources:" in plain.stdout and "[1]" in plain.stdout
