"""Answer sheets for blind grading: every question of a set, the answer Nurture gives, and its
citations, written as JSON lines (for us) and Markdown (for the grader: question and answer only).

Also the realistic question set's fixed dev / held-out split and the sheet's summary figures
(answered rate, in-scope refusals, out-of-scope declines, words per answer, alarming sentences).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from statistics import mean, median
from typing import Literal

import yaml
from pydantic import BaseModel

from assistant.models import Answer
from assistant.service import Assistant
from assistant.topic_fit import TopicFit, default_topic_fit

Split = Literal["dev", "held-out"]
DEV_SHARE = 60  # percent of the realistic set used for tuning; the rest is held out
_QUOTED = re.compile(r"(.+?[.!?][\"')]?) ((?:\[\d+\])+)(?:\s+|$)", re.DOTALL)


class SheetQuestion(BaseModel):
    id: str
    question: str
    scope: Literal["in", "out", "safety"]
    topic: str = ""
    # A set written wholly for tuning says so on each row; otherwise the id's hash decides.
    split: Split | None = None

    @property
    def assigned_split(self) -> Split:
        return self.split or split_of(self.id)


class SheetRow(BaseModel):
    id: str
    split: Split
    scope: str
    topic: str
    question: str
    answer: str
    abstained: bool
    abstain_reason: str | None
    safety: str
    words: int
    alarming: list[str]
    citations: list[dict]


def split_of(question_id: str) -> Split:
    """Deterministic: the first byte of the id's SHA-256 decides (about 60% dev)."""
    digest = hashlib.sha256(question_id.encode("utf-8")).digest()
    return "dev" if digest[0] * 100 // 256 < DEV_SHARE else "held-out"


def load_questions(path: Path) -> list[SheetQuestion]:
    """A realistic set (.jsonl: id, question, scope, topic) or a gold set (.yaml)."""
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return [SheetQuestion.model_validate(row, strict=False) for row in _known_fields(rows)]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items: list[SheetQuestion] = []
    for scope, key in (("in", "in_scope"), ("out", "out_of_scope"), ("safety", "safety")):
        for n, item in enumerate(data.get(key) or [], start=1):
            topic = ",".join(item.get("docs", [])) or item.get("category", "")
            items.append(
                SheetQuestion(
                    id=f"{key}-{n:03d}", question=item["question"], scope=scope, topic=topic
                )
            )
    return items


def _known_fields(rows: list[dict]) -> list[dict]:
    fields = set(SheetQuestion.model_fields)
    return [{k: v for k, v in row.items() if k in fields} for row in rows]


def answer_body(answer: Answer) -> str:
    """The quoted answer without the fixed safety message or note in front of it."""
    body = answer.answer
    if answer.safety.message and body.startswith(answer.safety.message):
        body = body[len(answer.safety.message) :].strip()
    if answer.note and body.startswith(answer.note):
        body = body[len(answer.note) :].strip()
    return body


def quoted_sentences(answer: Answer) -> list[str]:
    if answer.abstained:
        return []
    return [match.group(1).strip() for match in _QUOTED.finditer(answer_body(answer))]


def sheet_row(item: SheetQuestion, answer: Answer, topic_fit: TopicFit | None = None) -> SheetRow:
    topic_fit = topic_fit or default_topic_fit()
    body = answer_body(answer)
    alarming = [
        sentence
        for sentence in quoted_sentences(answer)
        if answer.safety.category == "none"
        and not topic_fit.allows(sentence, topic_fit.asked_about(item.question))
    ]
    return SheetRow(
        id=item.id,
        split=item.assigned_split,
        scope=item.scope,
        topic=item.topic,
        question=item.question,
        answer=answer.answer,
        abstained=answer.abstained,
        abstain_reason=answer.abstain_reason,
        safety=answer.safety.category,
        words=0 if answer.abstained else len(re.sub(r"\[\d+\]", "", body).split()),
        alarming=alarming,
        citations=[
            {
                "n": c.n,
                "doc_id": c.doc_id,
                "section": c.section,
                "anchor": c.anchor,
                "quotes": c.quotes,
            }
            for c in answer.citations
        ],
    )


def answer_sheet(assistant: Assistant, items: list[SheetQuestion]) -> list[SheetRow]:
    return [sheet_row(item, assistant.ask(item.question)) for item in items]


def write_sheet(rows: list[SheetRow], path: Path) -> tuple[Path, Path]:
    """`path` with .jsonl (everything) and .md (question and answer only, for the grader)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    as_json = path.with_suffix(".jsonl")
    as_md = path.with_suffix(".md")
    as_json.write_text("".join(row.model_dump_json() + "\n" for row in rows), encoding="utf-8")
    parts = ["# Answers for grading\n\nEach item: the carer's question, then Nurture's answer.\n"]
    for row in rows:
        answer = "\n".join(f"> {line}" if line else ">" for line in row.answer.splitlines())
        parts.append(f"## {row.id}\n\n**Question:** {row.question}\n\n**Answer:**\n\n{answer}\n")
    as_md.write_text("\n".join(parts), encoding="utf-8")
    return as_json, as_md


def sheet_summary(rows: list[SheetRow]) -> dict[str, dict[str, float]]:
    """Figures per split (and for all rows): answered rate, in-scope refusals (abstained),
    out-of-scope declines, words per answer, alarming sentences, 'closest guidance' answers,
    in-scope questions that got a safety message."""
    summary: dict[str, dict[str, float]] = {}
    for name in ("dev", "held-out", "all"):
        part = [row for row in rows if name in ("all", row.split)]
        inside = [row for row in part if row.scope == "in"]
        outside = [row for row in part if row.scope == "out"]
        answered = [row for row in inside if not row.abstained]
        words = [row.words for row in answered]
        summary[name] = {
            "in_scope": len(inside),
            "out_of_scope": len(outside),
            "in_scope_answered_rate": round(len(answered) / max(len(inside), 1), 3),
            "in_scope_refused": len(inside) - len(answered),
            "out_of_scope_declined": sum(row.abstained for row in outside),
            "words_mean": round(mean(words), 1) if words else 0.0,
            "words_median": float(median(words)) if words else 0.0,
            "answers_over_140_words": sum(w > 140 for w in words),
            "alarming_sentences": sum(len(row.alarming) for row in part),
            "answers_with_alarming": sum(bool(row.alarming) for row in part),
            "closest_guidance_answers": sum(
                "doesn't answer exactly that" in row.answer for row in answered
            ),
            # Issue 10's false-alarm measure: in-scope questions given a safety message.
            "in_scope_safety_messages": sum(row.safety != "none" for row in inside),
        }
    return summary


def load_topic_labels(path: Path) -> dict[str, list[str]]:
    """Weak labels: the documents covering each topic of the realistic set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(topic): list(docs or []) for topic, docs in data["topics"].items()}


def topic_recall(
    assistant: Assistant,
    items: list[SheetQuestion],
    labels: dict[str, list[str]],
    use_questions: bool,
) -> dict[str, float]:
    """Document recall@1/@3 and MRR of hybrid retrieval against the weak topic labels (in-scope
    questions whose topic has documents), with or without the question index."""
    from assistant.evaluate import ranked_documents

    ranks: list[int | None] = []
    for item in items:
        docs = labels.get(item.topic) or []
        if item.scope != "in" or not docs:
            continue
        ranked = ranked_documents(
            assistant, item.question, "hybrid", assistant.settings.fusion, use_questions
        )
        ranks.append(next((i + 1 for i, doc in enumerate(ranked) if doc in docs), None))
    total = max(len(ranks), 1)
    return {
        "questions": len(ranks),
        "recall@1": round(sum(r == 1 for r in ranks) / total, 3),
        "recall@3": round(sum(r is not None and r <= 3 for r in ranks) / total, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / total, 3),
    }
