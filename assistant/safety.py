"""Safety triage: deterministic, first, and independent of the index.

1. Normalise the message (case, punctuation, contractions, abbreviations, misspellings).
2. Match phrase patterns, category by category in priority order.
3. If no pattern matched and a query embedding is available, compare it with example messages
   (`exemplars.yaml`) as a second signal for paraphrases.

Rules and messages are data files in `assistant/safety_rules/`, reviewed like corpus text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel

from assistant.embeddings import Embedder
from assistant.text import Normaliser, load_replacements

logger = logging.getLogger(__name__)

Category = Literal["none", "emergency", "safeguarding", "carer_crisis", "medical"]
PRIORITY: tuple[Category, ...] = ("emergency", "safeguarding", "carer_crisis", "medical")
RULES_DIR = Path(__file__).parent / "safety_rules"
# Categories about a live situation, set aside for a general or training question.
_LIVE_ONLY = {"emergency", "safeguarding"}


class SafetyResult(BaseModel):
    category: Category = "none"
    message: str | None = None
    # Which signal fired ("pattern:<id>" or "exemplar:<score>"); never shown to carers.
    matched: str | None = None


@dataclass(frozen=True)
class Rule:
    category: Category
    id: str
    regex: re.Pattern[str]


class SafetyTriage:
    def __init__(
        self,
        rules_dir: Path = RULES_DIR,
        *,
        known_words: set[str] | None = None,
        exemplar_vectors: dict[Category, np.ndarray] | None = None,
        exemplar_threshold: float = 1.1,
    ) -> None:
        self.rules_dir = rules_dir
        data = yaml.safe_load((rules_dir / "patterns.yaml").read_text())
        fragments: dict[str, str] = data.get("fragments", {})
        self.rules: list[Rule] = []
        vocabulary: set[str] = set()
        for category in PRIORITY:
            for entry in data.get(category, []):
                source = entry["pattern"]
                for name, fragment in fragments.items():
                    source = source.replace("{" + name + "}", fragment)
                try:
                    regex = re.compile(source)
                except re.error as error:
                    raise ValueError(
                        f"{rules_dir / 'patterns.yaml'}: pattern {entry['id']!r} is not a valid "
                        f"regular expression ({error})"
                    ) from None
                self.rules.append(Rule(category, entry["id"], regex))
                vocabulary.update(re.findall(r"[a-z]{6,}", re.sub(r"\\[a-z]", " ", source)))
        self.general = [re.compile(pattern) for pattern in data.get("general", [])]
        self.normalise = Normaliser(
            vocabulary, known_words, load_replacements(rules_dir / "normalise.yaml")
        )
        self.messages: dict[str, str] = yaml.safe_load((rules_dir / "messages.yaml").read_text())
        missing = set(PRIORITY) - set(self.messages)
        if missing:
            raise ValueError(f"{rules_dir / 'messages.yaml'} has no message for {sorted(missing)}")
        self.exemplar_vectors = exemplar_vectors or {}
        self.exemplar_threshold = exemplar_threshold

    @cached_property
    def exemplars(self) -> dict[Category, list[str]]:
        return yaml.safe_load((self.rules_dir / "exemplars.yaml").read_text())

    def match_patterns(self, text: str) -> tuple[Category, str] | None:
        normalised = f" {self.normalise(text)} "
        general = any(regex.search(normalised) for regex in self.general)
        for rule in self.rules:
            if general and rule.category in _LIVE_ONLY:
                continue
            if rule.regex.search(normalised):
                return rule.category, f"pattern:{rule.id}"
        return None

    def match_exemplars(self, query_vector: np.ndarray | None) -> tuple[Category, str] | None:
        if query_vector is None or not self.exemplar_vectors:
            return None
        best: tuple[float, Category] | None = None
        for category in PRIORITY:
            vectors = self.exemplar_vectors.get(category)
            if vectors is None or not len(vectors):
                continue
            score = float(np.max(vectors @ query_vector))
            if score >= self.exemplar_threshold and (best is None or score > best[0]):
                best = (score, category)
        if best is None:
            return None
        return best[1], f"exemplar:{best[0]:.3f}"

    def triage(self, text: str, query_vector: np.ndarray | None = None) -> SafetyResult:
        found = self.match_patterns(text) or self.match_exemplars(query_vector)
        if found is None:
            return SafetyResult()
        category, matched = found
        return SafetyResult(
            category=category, message=self.messages[category].strip(), matched=matched
        )


def embed_exemplars(triage: SafetyTriage, embedder: Embedder) -> dict[Category, np.ndarray]:
    """Vectors of the example messages, computed once when the assistant starts."""
    return {
        category: embedder.embed_documents(phrases)
        for category, phrases in triage.exemplars.items()
    }
