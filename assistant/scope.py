"""What Nurture does not cover: a question closer to one of these topics than to the library
is declined, even when it shares words with the library (`prompts/out_of_scope.yaml`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import yaml

from assistant.embeddings import Embedder

TOPICS_FILE = Path(__file__).parent / "prompts" / "out_of_scope.yaml"


class ScopeGuard:
    def __init__(
        self,
        topics: list[str],
        vectors: np.ndarray,
        margin: float,
        floor: float,
        words: set[str] | None = None,
    ) -> None:
        self.topics = topics
        self.words = words or set()
        self.vectors = vectors
        self.margin = margin
        self.floor = floor

    @classmethod
    def build(cls, embedder: Embedder, margin: float, floor: float) -> ScopeGuard:
        data = yaml.safe_load(TOPICS_FILE.read_text())
        topics = [str(t) for t in data["topics"]]
        words = {str(w).lower() for w in data.get("words") or []}
        return cls(topics, embedder.embed_documents(topics), margin, floor, words)

    def names_uncovered_topic(self, question: str) -> bool:
        """The question uses a word that only an uncovered topic uses ("puppy", "vaping")."""
        return bool(self.words & set(re.findall(r"[a-z][a-z-]*", question.lower())))

    def outside(
        self, query_vector: np.ndarray, best_library_score: float, named: bool = False
    ) -> str | None:
        """The uncovered topic the question is about, if it is clearly closer to it. When the
        question also uses a word only uncovered topics use (`named`: "dog", "pushchair"), being
        about as close is enough."""
        scores = self.vectors @ query_vector
        best = int(np.argmax(scores))
        score = float(scores[best])
        needed = best_library_score + (-self.margin if named else self.margin)
        if score >= self.floor and score >= needed:
            return self.topics[best]
        return None
