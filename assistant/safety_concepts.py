"""Red-flag concepts: groups of words that together signal a danger (`safety_rules/concepts.yaml`).

A concept fires when a word from every one of its groups appears within a few words of the others,
so "gone a funny grey colour" and "lips look dusky" both reach `colour-change` without either
phrasing being listed. Matching runs on text already normalised by the triage's `Normaliser`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.models import SAFETY_PRIORITY, SafetyCategory
from assistant.rule_files import load_rule_file

_DEFAULT_WINDOW = 10


_WORD_LISTS = (
    "health_worry",
    "losing_control",
    "fever_words",
    "calm_readings",
    "child_behaviour",
    "harm_context",
)


@dataclass(frozen=True)
class Concept:
    id: str
    category: SafetyCategory
    source: str
    groups: tuple[re.Pattern[str], ...]
    within: int
    unless: re.Pattern[str] | None
    symptom: bool = False  # a medical concept the classifier may raise (see concepts.yaml)
    distress: bool = False  # a carer crisis heard as distress, not a risk of harm


def alternation(text: str, terms: dict[str, str], where: str) -> re.Pattern[str]:
    """' | '-separated regular expression fragments as one whole-word pattern."""
    parts = []
    for term in (t.strip() for t in text.split(" | ")):
        for name, fragment in terms.items():
            term = term.replace("{" + name + "}", fragment)
        if "{" in term and "}" in term and re.search(r"\{[a-z_]+\}", term):
            raise ValueError(f"{where}: unknown term list in {term!r} (define it under 'terms')")
        parts.append(term)
    try:
        return re.compile(r"\b(?:" + "|".join(parts) + r")\b")
    except re.error as error:
        raise ValueError(f"{where}: not a valid regular expression ({error})") from None


class ConceptLayer:
    def __init__(self, path: Path) -> None:
        data = load_rule_file(path)
        terms: dict[str, str] = data.get("terms") or {}
        # Patterns' `unless` may use these lists too (one list of, say, colours explained by food).
        self.terms = terms
        self.concepts: list[Concept] = []
        for entry in data.get("concepts") or []:
            where = f"{path}: concept {entry.get('id')!r}"
            if entry.get("category") not in SAFETY_PRIORITY:
                raise ValueError(f"{where}: category must be one of {list(SAFETY_PRIORITY)}")
            if not entry.get("all") or not entry.get("source"):
                raise ValueError(f"{where}: give 'all' (word groups) and 'source'")
            symptom = entry.get("symptom", False)
            if symptom not in (True, False) or (symptom and entry["category"] != "medical"):
                raise ValueError(f"{where}: 'symptom: true' is for medical concepts only")
            distress = entry.get("distress", False)
            if distress not in (True, False) or (distress and entry["category"] != "carer_crisis"):
                raise ValueError(f"{where}: 'distress: true' is for carer_crisis concepts only")
            unless = entry.get("unless")
            self.concepts.append(
                Concept(
                    id=entry["id"],
                    category=entry["category"],
                    source=entry["source"],
                    groups=tuple(alternation(g, terms, where) for g in entry["all"]),
                    within=int(entry.get("within", _DEFAULT_WINDOW)),
                    unless=alternation(unless, terms, where) if unless else None,
                    symptom=symptom,
                    distress=distress,
                )
            )
        # Word lists read on their own (see the end of concepts.yaml).
        self.word_lists: dict[str, re.Pattern[str]] = {}
        for name in _WORD_LISTS:
            if not data.get(name):
                raise ValueError(f"{path}: give the word list '{name}'")
            self.word_lists[name] = alternation(data[name], terms, f"{path}: {name}")
        # Words the normaliser may correct misspellings towards ("brething" -> "breathing").
        source = " ".join(str(v) for v in terms.values())
        for entry in data.get("concepts") or []:
            source += " " + " ".join(entry["all"])
        self.vocabulary = set(re.findall(r"[a-z]{6,}", re.sub(r"\\[a-z]", " ", source)))

    def fired(self, normalised: str, live: bool = True) -> list[Concept]:
        """Every concept whose groups all appear close together in the normalised text.

        Not `live` (a general or training question): emergency and safeguarding concepts are set
        aside, as the phrase patterns do."""
        return [
            concept
            for concept in self.concepts
            if (live or concept.category not in ("emergency", "safeguarding"))
            and not (concept.unless and concept.unless.search(normalised))
            and _close_together(normalised, concept.groups, concept.within)
        ]


def _close_together(text: str, groups: tuple[re.Pattern[str], ...], within: int) -> bool:
    positions: list[list[int]] = []
    for group in groups:
        found = [text.count(" ", 0, match.start()) for match in group.finditer(text)]
        if not found:
            return False
        positions.append(found[:20])
    if len(positions) == 1:
        return True
    return any(max(combo) - min(combo) <= within for combo in itertools.product(*positions))
