"""`nurture preview`: build a draft generation from the working corpus without activating it,
ask the gold set of both the draft and the live generation, and say what would change.

The draft is an ordinary generation (vectors of unchanged documents reused, as ingest does) that
the pointer does not name; `nurture ingest --activate <draft>` publishes it, and the next ingest
or preview prunes it like any old generation. The report names no file paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import NurtureError
from assistant.evaluate import GoldSet
from assistant.models import Answer
from assistant.service import Assistant
from assistant.store import IndexStore, PinnedStore
from ingest.pipeline import IngestReport, Pipeline

__all__ = ["Change", "PreviewReport", "draft_assistant", "preview", "sections_of"]


@dataclass
class Change:
    question: str
    kind: str  # "cited sections changed", "new refusal", "new answer"
    live: list[str]
    draft: list[str]


@dataclass
class PreviewReport:
    draft: str | None
    live: str | None
    documents_embedded: list[str] = field(default_factory=list)
    texts_embedded: int = 0
    questions_embedded: int = 0
    sentences_embedded: int = 0
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    bars: dict[str, dict[str, float]] = field(default_factory=dict)
    drops: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def sections_of(answer: Answer) -> list[str]:
    """The sections an answer cites, as `doc_id#anchor`; [] when it declined."""
    if answer.abstained:
        return []
    return sorted({f"{c.doc_id}#{c.anchor}" for c in answer.citations})


def draft_assistant(
    settings: Settings, store: IndexStore, generation: str, embedder: Embedder
) -> Assistant:
    """An Assistant that serves `generation` whatever the active pointer says."""
    return Assistant.from_settings(
        settings, store=PinnedStore(store, generation), embedder=embedder
    )


def _bars(gold: GoldSet, answers: dict[str, Answer]) -> dict[str, float]:
    """The gold set's bars that depend on the index (safety triage does not)."""
    found = [
        any(c.doc_id in item.docs for c in answers[item.question].citations)
        and not answers[item.question].abstained
        for item in gold.in_scope
    ]
    declined = [answers[item.question].abstained for item in gold.out_of_scope]
    answered = [not answers[item.question].abstained for item in gold.in_scope]
    return {
        "in_scope_cites_expected_document": round(sum(found) / max(len(found), 1), 4),
        "out_of_scope_declined": round(sum(declined) / max(len(declined), 1), 4),
        "in_scope_answered": round(sum(answered) / max(len(answered), 1), 4),
    }


def compare(gold: GoldSet, live: Assistant, draft: Assistant) -> tuple[list[Change], dict]:
    questions = [item.question for item in (*gold.in_scope, *gold.out_of_scope)]
    before = {q: live.ask(q) for q in questions}
    after = {q: draft.ask(q) for q in questions}
    changes: list[Change] = []
    for question in questions:
        old, new = before[question], after[question]
        if not old.abstained and new.abstained:
            kind = "new refusal"
        elif old.abstained and not new.abstained:
            kind = "new answer"
        elif sections_of(old) != sections_of(new):
            kind = "cited sections changed"
        else:
            continue
        changes.append(Change(question, kind, sections_of(old), sections_of(new)))
    bars = {
        name: {"live": value, "draft": _bars(gold, after)[name]}
        for name, value in _bars(gold, before).items()
    }
    return changes, bars


def preview(
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    gold: GoldSet | None = None,
    progress: Callable[[str], None] | None = None,
) -> PreviewReport:
    """Build the draft, compare it with the live generation on the gold set, save the report."""
    say = progress or (lambda _message: None)
    live_name, _ = store.pointer()
    say("building the draft generation")
    built: IngestReport = Pipeline(settings, store, embedder).run(activate=False)
    report = PreviewReport(
        draft=None if built.unchanged else built.active,
        live=live_name,
        documents_embedded=built.embedded,
        texts_embedded=built.texts_embedded,
        questions_embedded=built.questions_embedded,
        sentences_embedded=built.sentences_embedded,
        removed=built.removed,
        errors=[str(error) for error in built.errors],
    )
    if report.draft is not None and live_name is not None:
        gold = gold or GoldSet.load(settings.corpus_dir / "eval" / "questions.yaml")
        say("asking the gold questions of the draft and the live generation")
        live = Assistant.from_settings(settings, store=store, embedder=embedder)
        draft = draft_assistant(settings, store, report.draft, embedder)
        report.changes, report.bars = compare(gold, live, draft)
        report.drops = [
            name for name, values in report.bars.items() if values["draft"] < values["live"]
        ]
    save(settings, report)
    return report


def save(settings: Settings, report: PreviewReport) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.drafts_path.write_text(json.dumps(report.as_json(), indent=2))


def load(settings: Settings) -> dict[str, Any] | None:
    """The latest preview's report, or None when there is none (or it was published)."""
    try:
        return json.loads(settings.drafts_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def require_draft(store: IndexStore) -> str:
    found = store.draft()
    if found is None:
        raise NurtureError("there is no draft: run `nurture preview` first")
    return found[0]
