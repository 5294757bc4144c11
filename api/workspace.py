"""The trainers' workspace: what carers asked that the guidance could not answer, which answers
they found unhelpful, usage counts, coverage and reviews due, from stored (redacted) records.

Everything here is built from what `Storage` keeps: questions and comments exactly as stored
(redacted, and only within NURTURE_RETENTION_DAYS), never a conversation or answer id, never a
file path. Each report is a list of `Table`s, so the page, the CSV downloads and `nurture report`
show the same rows.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import yaml

from api.storage import Storage, StoredAnswer
from assistant import Assistant, Settings, cluster_vectors

__all__ = ["Table", "Workspace", "also_asked_lines", "new_document_stub", "render"]

_CACHE_LIMIT = 50_000  # embedded question texts kept in memory
_REDACTED = re.compile(r"\[[a-z_ ]+\]")
_EXAMPLES = 5


@dataclass
class Table:
    """One table of the workspace: named columns and rows of plain values (the CSV)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            **self.extra,
        }


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def weak(answer: StoredAnswer) -> bool:
    """Declined for lack of evidence, or declined as outside the guidance (not outages)."""
    return answer.abstained and answer.abstain_reason in ("no_evidence", "out_of_scope")


def also_asked_lines(questions: list[str]) -> str:
    """'Also asked as' lines (CORPUS-CONVENTIONS.md section 1) from stored questions: lower
    case, one line each, without redacted parts or duplicates; at most five."""
    lines: list[str] = []
    seen: set[str] = set()
    for question in questions:
        if _REDACTED.search(question):
            continue
        line = " ".join(question.lower().split()).rstrip("?!. ")
        key = re.sub(r"[^\w ]", "", line)
        if line and key not in seen:
            seen.add(key)
            lines.append(f"- {line}")
        if len(lines) == 5:
            break
    return "Also asked as:\n" + "\n".join(lines) + "\n" if lines else ""


def new_document_stub(questions: list[str], today: date) -> str:
    """A new document's front matter and first section for a cluster no section covers."""
    heading = questions[0].strip().rstrip("?") + "?" if questions else "What carers asked?"
    heading = heading[0].upper() + heading[1:]
    alternates = also_asked_lines(questions[1:])
    front = {
        "title": heading.rstrip("?"),
        "type": "guidance",
        "summary": "TODO: one sentence on what this document helps a carer do",
        "sources": [
            {
                "name": "TODO: the page's own title",
                "url": "TODO: the page itself, never a homepage",
                "publisher": "TODO: e.g. NHS",
                "year": "TODO: the year the page shows, or remove this line if it shows none",
            }
        ],
        "reviewed": today,
        "topics": [],
        "age_range": "0-5 years",
        "jurisdiction": "UK",
        "audience": "foster carers",
    }
    matter = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    return (
        f"---\n{matter}---\n\n## {heading}\n\n{alternates}\n"
        "TODO: the first sentence answers the question.\n"
    )


class Workspace:
    """Builds the workspace's tables. One per app; keeps embedded question texts in memory."""

    def __init__(
        self,
        storage: Storage,
        assistant: Assistant,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.assistant = assistant
        self.settings = settings
        self.clock = clock
        self._vectors: dict[str, np.ndarray] = {}
        self._phrasings_of: tuple[str, tuple[list[Any], np.ndarray]] | None = None
        self._lock = threading.Lock()

    def _since(self, days: int) -> datetime:
        return self.clock() - timedelta(days=days)

    # -- unanswered questions, clustered ------------------------------------------------

    def embed(self, texts: list[str], asked: list[datetime] | None = None) -> np.ndarray:
        """Vectors of question texts: from memory, else from the database, else the model
        (then kept in both). `asked` (when each was asked) dates the stored vectors."""
        embedder = self.assistant.embedder
        if embedder is None:
            raise RuntimeError("the embedding model is not loaded")
        latest: dict[str, datetime] = {}
        for text, when in zip(texts, asked or [self.clock()] * len(texts), strict=True):
            latest[text] = max(when, latest.get(text, when))
        with self._lock:
            missing = sorted(text for text in latest if text not in self._vectors)
        found: dict[str, np.ndarray] = {}
        if missing:
            hashes = {_hash(text): text for text in missing}
            for digest, blob in self.storage.vectors(list(hashes), embedder.name).items():
                found[hashes[digest]] = np.frombuffer(blob, dtype=np.float32)
            fresh = [text for text in missing if text not in found]
            if fresh:
                vectors = np.asarray(embedder.embed_documents(fresh), dtype=np.float32)
                found.update(zip(fresh, vectors, strict=True))
                self.storage.save_vectors(
                    embedder.name,
                    [
                        (_hash(t), v.tobytes(), latest[t])
                        for t, v in zip(fresh, vectors, strict=True)
                    ],
                )
        with self._lock:
            if len(self._vectors) + len(found) > _CACHE_LIMIT:
                self._vectors.clear()
            self._vectors.update(found)
            return np.vstack([self._vectors[text] for text in texts])

    def _forget_expired(self) -> None:
        """Drop cached vectors of text that is past retention (or no longer stored)."""
        since = self.clock() - timedelta(days=self.storage.retention_days)
        kept = {a.question for a in self.storage.answers_since(since) if a.question}
        with self._lock:
            self._vectors = {t: v for t, v in self._vectors.items() if t in kept}

    def unanswered(self, days: int, progress: Callable[[int, int], None] | None = None) -> Table:
        declined = [a for a in self.storage.answers_since(self._since(days)) if weak(a)]
        questions = [a.question for a in declined]
        texts = [a.question for a in declined if a.question]
        asked = [a.created_at for a in declined if a.question]
        table = Table(
            "unanswered",
            "Unanswered questions",
            ["count", "closest_document", "closest_section", "similarity", "questions"],
            extra={"clusters": [], "declined": len(questions), "text_kept": len(texts)},
        )
        if not texts:
            return table
        vectors = self.embed(texts, asked)
        self._forget_expired()
        clusters = cluster_vectors(
            vectors,
            self.settings.cluster_similarity,
            (lambda done: progress(done, len(texts))) if progress else None,
        )
        documents = self.assistant.documents() if self.assistant.retriever else {}
        nearest = self._closest_all([cluster.centre for cluster in clusters])
        for cluster, closest in zip(clusters, nearest, strict=True):
            members = [texts[i] for i in cluster.members]
            counts = Counter(members)
            examples = [text for text, _ in counts.most_common(_EXAMPLES)]
            document = documents.get(closest["doc_id"]) if closest else None
            entry = {
                "count": len(members),
                "questions": examples,
                "closest": closest
                and {
                    **closest,
                    "title": document.meta.title if document else closest["doc_id"],
                },
                # A near section gets "Also asked as" lines; a far one, a new document.
                "suggest": "also_asked"
                if closest and closest["similarity"] >= self.settings.cluster_similarity
                else "new_document",
                "also_asked": also_asked_lines(examples) if closest else "",
                "new_document": new_document_stub(examples, self.clock().date()),
            }
            table.extra["clusters"].append(entry)
            table.rows.append(
                [
                    len(members),
                    entry["closest"]["title"] if closest else "",
                    closest["section"] if closest else "",
                    closest["similarity"] if closest else "",
                    " | ".join(examples),
                ]
            )
        return table

    def _phrasings(self) -> tuple[list[Any], np.ndarray] | None:
        """The serving generation's question phrasings and their unit vectors (cached)."""
        retriever = self.assistant.retriever
        generation = self.assistant.generation
        if retriever is None or generation is None:
            return None
        with self._lock:
            if self._phrasings_of is not None and self._phrasings_of[0] == generation:
                return self._phrasings_of[1]
        collection = retriever.store.question_collection(generation)
        if collection is None:
            return None
        records, vectors = retriever.store.question_records(collection)
        if not records:
            return None
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        found = (records, (vectors / np.where(norms == 0, 1, norms)).astype(np.float32))
        with self._lock:
            self._phrasings_of = (generation, found)
        return found

    def _closest_all(self, centres: list[np.ndarray]) -> list[dict[str, Any] | None]:
        """For each cluster centre, the section whose heading or "Also asked as" phrasing is
        nearest (one matrix product for all clusters)."""
        phrasings = self._phrasings()
        if phrasings is None or not centres:
            return [None] * len(centres)
        records, vectors = phrasings
        scores = np.vstack(centres) @ vectors.T
        best = np.argmax(scores, axis=1)
        return [
            {
                "doc_id": records[index].doc_id,
                "anchor": records[index].anchor,
                "section": " > ".join(records[index].heading_path),
                "similarity": round(float(scores[row, index]), 3),
            }
            for row, index in enumerate(best)
        ]

    # -- unhelpful answers -----------------------------------------------------------------

    def unhelpful(self, days: int) -> Table:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        titles: dict[tuple[str, str], tuple[str, str]] = {}
        for item in self.storage.feedback_since(self._since(days), "down"):
            sections = {(c.get("doc_id", ""), c.get("anchor", "")): c for c in item.citations}
            if not sections:
                sections = {("", ""): {"title": "(no citation: declined)", "section": ""}}
            for key, citation in sections.items():
                titles[key] = (str(citation.get("title", "")), str(citation.get("section", "")))
                groups[key].append(
                    {
                        "question": item.question,
                        "comment": item.comment,
                        "date": item.created_at.date().isoformat(),
                    }
                )
        table = Table(
            "unhelpful",
            "Unhelpful answers",
            ["document", "section", "thumbs_down", "comments"],
            extra={"groups": []},
        )
        for key, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            title, section = titles[key]
            comments = [i["comment"] for i in items if i["comment"]]
            table.rows.append([title, section, len(items), " | ".join(comments)])
            table.extra["groups"].append(
                {
                    "doc_id": key[0],
                    "anchor": key[1],
                    "title": title,
                    "section": section,
                    "items": items,
                }
            )
        return table

    # -- usage -------------------------------------------------------------------------------

    def usage(self, days: int) -> list[Table]:
        answers = self.storage.answers_since(self._since(days))
        today = self.clock().date()
        per_day = {today - timedelta(days=n): [0, 0] for n in range(days - 1, -1, -1)}
        weeks: Counter[tuple[str, str]] = Counter()
        for answer in answers:
            day = answer.created_at.date()
            if day in per_day:
                per_day[day][0] += 1
                per_day[day][1] += int(answer.abstained)
            if answer.safety != "none":
                monday = day - timedelta(days=day.weekday())
                weeks[(monday.isoformat(), answer.safety)] += 1
        daily = Table(
            "usage_daily", "Questions per day", ["date", "questions", "declined", "share_declined"]
        )
        for day, (asked, declined) in per_day.items():
            share = round(declined / asked, 3) if asked else 0.0
            daily.rows.append([day.isoformat(), asked, declined, share])
        safety = Table(
            "usage_safety",
            "Safety messages per category per week",
            ["week_starting", "category", "messages"],
        )
        for (week, category), count in sorted(weeks.items()):
            safety.rows.append([week, category, count])
        return [daily, safety]

    # -- coverage and reviews ------------------------------------------------------------

    def coverage(self, days: int) -> list[Table]:
        cited: Counter[tuple[str, str]] = Counter()
        names: dict[tuple[str, str], tuple[str, str]] = {}
        for answer in self.storage.answers_since(self._since(days)):
            for citation in {
                (c.get("doc_id", ""), c.get("anchor", "")): c for c in answer.citations
            }.values():
                key = (str(citation.get("doc_id", "")), str(citation.get("anchor", "")))
                cited[key] += 1
                names[key] = (str(citation.get("title", "")), str(citation.get("section", "")))
        top = Table("cited", "Most cited sections", ["document", "section", "citations"])
        for key, count in cited.most_common(50):
            top.rows.append([names[key][0], names[key][1], count])
        documents = self.assistant.documents() if self.assistant.retriever else {}
        cited_docs = {doc_id for doc_id, _ in cited}
        never = Table("never_cited", "Documents never cited", ["doc_id", "document", "reviewed"])
        for doc_id, doc in sorted(documents.items()):
            if doc_id not in cited_docs:
                never.rows.append([doc_id, doc.meta.title, doc.meta.reviewed.isoformat()])
        return [top, never]

    def review_due(self) -> Table:
        months = self.settings.review_months
        today = self.clock().date()
        table = Table(
            "review_due",
            f"Review due (reviewed over {months} months ago)",
            ["doc_id", "document", "reviewed", "months_since"],
        )
        documents = self.assistant.documents() if self.assistant.retriever else {}
        for doc_id, doc in sorted(documents.items(), key=lambda kv: kv[1].meta.reviewed):
            reviewed = doc.meta.reviewed
            since = (today.year - reviewed.year) * 12 + today.month - reviewed.month
            if today.day < reviewed.day:
                since -= 1
            if since >= months:
                table.rows.append([doc_id, doc.meta.title, reviewed.isoformat(), since])
        return table

    def tables(self, days: int, progress: Callable[[int, int], None] | None = None) -> list[Table]:
        return [
            self.unanswered(days, progress),
            self.unhelpful(days),
            *self.usage(days),
            *self.coverage(days),
            self.review_due(),
        ]


def render(tables: list[Table], fmt: str) -> str:
    """The tables as Markdown (one per heading) or as CSV (one block per table)."""
    import csv
    import io

    parts: list[str] = []
    for table in tables:
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow([f"# {table.name}"])
            writer.writerow(table.columns)
            writer.writerows(table.rows)
            parts.append(buffer.getvalue())
            continue
        lines = [f"## {table.title}", ""]
        if not table.rows:
            lines += ["Nothing in this period.", ""]
        else:
            lines.append("| " + " | ".join(table.columns) + " |")
            lines.append("|" + "---|" * len(table.columns))
            for row in table.rows:
                cells = [str(cell).replace("|", "\\|").replace("\n", " ") for cell in row]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
