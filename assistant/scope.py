"""What Nurture does not cover: a question closer to one of these topics than to the library
is declined, even when it shares words with the library (`prompts/out_of_scope.yaml`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import yaml

from assistant.embeddings import Embedder

TOPICS_FILE = Path(__file__).parent / "prompts" / "out_of_scope.yaml"
OLDER_CHILDREN = "older children and teenagers"
# A child's age as carers write it: "12 year old", "16yo", "aged 9", "(10)", "a 14-year-old",
# "shes 3".
_AGE = re.compile(
    r"\b(\d{1,2})\s*-?\s*(?:yo|y/o|yr|yrs|years?)\s*-?\s*old\b|\b(\d{1,2})\s*(?:yo|y/o)\b"
    r"|\baged\s+(\d{1,2})\b|\((\d{1,2})\)|\b(?:she|he|they) ?(?:s|is|are) (\d{1,2})\b"
)
_OLDER = re.compile(r"\b(?:teen|teens|teenage|teenager|teenagers|adolescent|adolescents)\b")
_YOUNG = re.compile(
    r"\b(?:baby|babies|newborn|toddler|toddlers|infant|nursery|preschool|pre-school|lo|little one|"
    r"months?|weeks?|days?)\b|\b(?:mo|m/o|wk|wks)\b"
)


class ScopeGuard:
    def __init__(
        self,
        topics: list[str],
        vectors: np.ndarray,
        margin: float,
        floor: float,
        words: set[str] | None = None,
        max_age_years: int = 5,
    ) -> None:
        self.topics = topics
        self.words = words or set()
        self.vectors = vectors
        self.margin = margin
        self.floor = floor
        self.max_age_years = max_age_years

    @classmethod
    def build(
        cls, embedder: Embedder, margin: float, floor: float, max_age_years: int = 5
    ) -> ScopeGuard:
        data = yaml.safe_load(TOPICS_FILE.read_text())
        topics = [str(t) for t in data["topics"]]
        words = {str(w).lower() for w in data.get("words") or []}
        vectors = embedder.embed_documents(topics)
        return cls(topics, vectors, margin, floor, words, max_age_years)

    def only_older_children(self, question: str) -> bool:
        """The question is about a child older than the library covers ("my 16 yo wants a
        tattoo"), and names no baby or young child."""
        text = question.lower()
        if _YOUNG.search(text):
            return False
        ages = [int(age) for match in _AGE.finditer(text) for age in match.groups() if age]
        if ages:
            return min(ages) > self.max_age_years
        return bool(_OLDER.search(text))

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
