"""`nurture eval`: how well the assistant does on the trainers' gold question set."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from assistant.models import SAFETY_PRIORITY, Answer, SafetyCategory
from assistant.retrieve import Fusion, Mode
from assistant.service import Assistant

_MARKED = re.compile(r"\s*(.+?[.!?][\"')]?) (?:\[\d+\])+", re.DOTALL)
_MARKER = re.compile(r"\[(\d+)\]")


class InScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    docs: list[str] = Field(min_length=1)
    safety: SafetyCategory = "none"


class OutOfScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)


class SafetyCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    category: SafetyCategory


class GoldSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    in_scope: list[InScope]
    out_of_scope: list[OutOfScope]
    safety: list[SafetyCase]

    @classmethod
    def load(cls, path: Path) -> GoldSet:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))

    def unknown_documents(self, known: set[str]) -> list[str]:
        """Documents the gold set names that are not among `known` (the corpus's ids)."""
        return sorted({doc for item in self.in_scope for doc in item.docs} - known)


def ranked_documents(
    assistant: Assistant,
    question: str,
    mode: Mode,
    fusion: Fusion,
    use_questions: bool | None = None,
) -> list[str]:
    assert assistant.retriever is not None
    result = assistant.retriever.search(
        question, mode=mode, fusion=fusion, k=10, use_questions=use_questions
    )
    ranked: list[str] = []
    for hit in result.hits:
        if hit.chunk.doc_id not in ranked:
            ranked.append(hit.chunk.doc_id)
    return ranked


def retrieval_scores(
    assistant: Assistant,
    gold: GoldSet,
    mode: Mode,
    fusion: Fusion,
    use_questions: bool | None = None,
) -> dict[str, float]:
    first_ranks = []
    for item in gold.in_scope:
        ranked = ranked_documents(assistant, item.question, mode, fusion, use_questions)
        rank = next((i + 1 for i, doc in enumerate(ranked) if doc in item.docs), None)
        first_ranks.append(rank)
    total = len(first_ranks)
    return {
        "recall@1": sum(1 for r in first_ranks if r == 1) / total,
        "recall@5": sum(1 for r in first_ranks if r is not None and r <= 5) / total,
        "mrr": sum(1 / r for r in first_ranks if r is not None) / total,
    }


def citation_problems(answer: Answer) -> list[str]:
    """What breaks the contract: a marker with no citation, or a quoted sentence with no marker."""
    if answer.abstained:
        return []
    body = answer.answer
    if answer.safety.message:
        if not body.startswith(answer.safety.message):
            return ["the safety message is not at the start of the answer"]
        body = body[len(answer.safety.message) :]
    if answer.note:
        body = body.strip()
        if not body.startswith(answer.note):
            return ["the note is not at the start of the quoted answer"]
        body = body[len(answer.note) :]
    problems = []
    numbers = {citation.n for citation in answer.citations}
    for marker in _MARKER.findall(body):
        if int(marker) not in numbers:
            problems.append(f"marker [{marker}] has no citation")
    leftover = _MARKED.sub("", body).strip()
    if leftover:
        problems.append(f"text without a citation marker: {leftover[:80]!r}")
    if not _MARKER.search(body):
        problems.append("no citation markers in a non-abstained answer")
    return problems


def evaluate(assistant: Assistant, gold: GoldSet) -> dict:
    report: dict = {
        "counts": {
            "in_scope": len(gold.in_scope),
            "out_of_scope": len(gold.out_of_scope),
            "safety": len(gold.safety),
        }
    }
    report["retrieval"] = {
        "dense": retrieval_scores(assistant, gold, "dense", "rrf"),
        "lexical": retrieval_scores(assistant, gold, "lexical", "rrf"),
        "hybrid_rrf": retrieval_scores(assistant, gold, "hybrid", "rrf"),
        "hybrid_weighted": retrieval_scores(assistant, gold, "hybrid", "weighted"),
    }
    report["retrieval"]["hybrid"] = report["retrieval"][f"hybrid_{assistant.settings.fusion}"]
    # The same hybrid search without the question index (headings and "Also asked as").
    report["retrieval"]["hybrid_passages_only"] = retrieval_scores(
        assistant, gold, "hybrid", assistant.settings.fusion, use_questions=False
    )

    in_answers = [assistant.ask(item.question) for item in gold.in_scope]
    out_answers = [assistant.ask(item.question) for item in gold.out_of_scope]
    abstained_out = sum(a.abstained for a in out_answers)
    abstained_in = sum(a.abstained for a in in_answers)
    report["abstention"] = {
        "threshold": assistant.settings.abstain_threshold,
        "recall": abstained_out / max(len(out_answers), 1),
        "precision": abstained_out / max(abstained_out + abstained_in, 1),
        "in_scope_abstained": abstained_in,
        "in_scope_abstained_questions": [
            item.question for item, a in zip(gold.in_scope, in_answers, strict=True) if a.abstained
        ],
        "out_of_scope_answered": [
            item.question
            for item, a in zip(gold.out_of_scope, out_answers, strict=True)
            if not a.abstained
        ],
    }

    triage: dict = {"recall": {}, "misses": []}
    for category in SAFETY_PRIORITY:
        cases = [item for item in gold.safety if item.category == category]
        cases += [item for item in gold.in_scope if item.safety == category]
        hits = 0
        for item in cases:
            got = assistant.triage.triage(item.question)
            if got.category == category:
                hits += 1
            else:
                triage["misses"].append(
                    {
                        "question": item.question,
                        "expected": category,
                        "got": got.category,
                        "matched": got.matched,
                    }
                )
        triage["recall"][category] = hits / max(len(cases), 1)
    false_alarms = [
        {"question": item.question, "got": answer.safety.category, "matched": answer.safety.matched}
        for item, answer in zip(gold.in_scope, in_answers, strict=True)
        if item.safety == "none" and answer.safety.category != "none"
    ]
    triage["false_alarms"] = len(false_alarms)
    triage["emergency_false_alarms"] = sum(f["got"] == "emergency" for f in false_alarms)
    triage["false_alarm_questions"] = false_alarms
    triage["layer_recall"] = _layer_recall(assistant, gold)
    report["triage"] = triage

    answered = [a for a in in_answers + out_answers if not a.abstained]
    problems = [p for a in answered for p in citation_problems(a)]
    report["citations"] = {
        "answers_checked": len(answered),
        "validity": 1.0
        - (sum(1 for a in answered if citation_problems(a)) / max(len(answered), 1)),
        "problems": problems[:20],
    }
    return report


def _layer_recall(assistant: Assistant, gold: GoldSet) -> dict[str, dict[str, float]]:
    """Per layer (pattern, concept, classifier): the share of each category it finds alone."""
    recall: dict[str, dict[str, float]] = {"pattern": {}, "concept": {}, "classifier": {}}
    for category in SAFETY_PRIORITY:
        cases = [i.question for i in gold.safety if i.category == category]
        cases += [i.question for i in gold.in_scope if i.safety == category]
        found = dict.fromkeys(recall, 0)
        for question in cases:
            decisions = assistant.triage.decisions(question)
            for layer in recall:
                found[layer] += any(
                    c == category and m.startswith(layer + ":") for c, m in decisions
                )
        for layer in recall:
            recall[layer][category] = found[layer] / max(len(cases), 1)
    return recall


def calibrate(assistant: Assistant, gold: GoldSet) -> dict:
    """Evidence scores of in-scope vs out-of-scope questions, and the threshold that
    separates them best (Youden's J), preferring answering when scores tie."""
    assert assistant.retriever is not None

    def best(question: str) -> float:
        return assistant.retriever.search(question).evidence  # type: ignore[union-attr]

    inside = np.array([best(item.question) for item in gold.in_scope])
    outside = np.array([best(item.question) for item in gold.out_of_scope])
    candidates = np.unique(np.concatenate([inside, outside]))
    best_j, best_t = -1.0, 0.0
    for threshold in candidates:
        j = (outside < threshold).mean() + (inside >= threshold).mean() - 1
        if j > best_j + 1e-9:
            best_j, best_t = j, float(threshold)
    # Put the threshold midway between the closest in-scope and out-of-scope scores around it.
    below = outside[outside < best_t].max(initial=0.0)
    threshold = round(float((below + best_t) / 2), 3)
    return {
        "threshold": threshold,
        "in_scope_abstained": int((inside < threshold).sum()),
        "out_of_scope_answered": int((outside >= threshold).sum()),
        "in_scope": {
            "min": float(inside.min()),
            "p10": float(np.percentile(inside, 10)),
            "median": float(np.median(inside)),
        },
        "out_of_scope": {
            "median": float(np.median(outside)),
            "p90": float(np.percentile(outside, 90)),
            "max": float(outside.max()),
        },
    }


def summary_rows(report: dict) -> list[tuple[str, str]]:
    rows = []
    for mode in ("dense", "lexical", "hybrid_rrf", "hybrid_weighted", "hybrid_passages_only"):
        scores = report["retrieval"][mode]
        rows.append((f"retrieval {mode}", "  ".join(f"{k} {v:.3f}" for k, v in scores.items())))
    abst = report["abstention"]
    rows.append(
        (
            "abstention",
            f"precision {abst['precision']:.3f}  recall {abst['recall']:.3f}  "
            f"in-scope abstained {abst['in_scope_abstained']}",
        )
    )
    tri = report["triage"]
    rows.append(("triage recall", "  ".join(f"{k} {v:.3f}" for k, v in tri["recall"].items())))
    for layer, recall in tri["layer_recall"].items():
        rows.append(
            (f"triage recall ({layer} alone)", "  ".join(f"{k} {v:.3f}" for k, v in recall.items()))
        )
    rows.append(
        (
            "triage false alarms (in scope)",
            f"{tri['false_alarms']} (emergency {tri['emergency_false_alarms']})",
        )
    )
    cit = report["citations"]
    rows.append(("citation validity", f"{cit['validity']:.3f} over {cit['answers_checked']}"))
    return rows
