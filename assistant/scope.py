"""What Nurture does not cover: a question closer to one of these topics than to the library
is declined, even when it shares words with the library (`prompts/out_of_scope.yaml`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
# A young child named outright, for telling a question about a pet, a plant or an elderly
# parent from one about the child ("the nursery" is also a garden centre's).
_CHILD_WORD = re.compile(
    r"\b(?:bab(?:y|ies|ys)|newborns?|toddlers?|infants?|child|children|childs|kids?|lo|"
    r"little ones?|son|daughter|boy|girl|grand(?:son|daughter|child|children)|nieces?|nephews?|"
    r"placements?|preschool(?:er)?s?|pre-school)\b"
)
_CHILD_AGE = re.compile(
    r"\b\d{1,2}\s*-?\s*(?:months?|mths?|weeks?|wks?|mo|m/o)\b"
    r"|\b[0-5]\s*-?\s*(?:yo|y/o|yrs?|years?)\b"
)


_OPENING_WORDS = 5
# The topic whose pointer serves a question about an older child.
_OLDER_TOPIC = "teenagers, exams, revision and homework"
_PERSON = re.compile(r"\b(?:he|she|hes|shes|his|her|him|they|them|their)\b")


@dataclass(frozen=True)
class Subject:
    """Words naming something the library is not about, and the uncovered topic it belongs to:
    `opening` words count in the question's first few words (animals), `anywhere` wherever
    they come (a care home, a garden centre)."""

    topic: str
    opening: re.Pattern[str] | None = None
    anywhere: re.Pattern[str] | None = None


class ScopeGuard:
    def __init__(
        self,
        topics: list[str],
        vectors: np.ndarray,
        margin: float,
        floor: float,
        words: set[str] | None = None,
        max_age_years: int = 5,
        subjects: list[Subject] | None = None,
        pointers: dict[str, str] | None = None,
    ) -> None:
        self.topics = topics
        # Who to ask instead, by topic (`ask` in the topics file).
        self.pointers = pointers or {}
        self.words = words or set()
        self.subjects = subjects or []
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
        subjects = [
            Subject(
                str(entry["topic"]),
                _phrases([str(w) for w in entry.get("opening") or []]),
                _phrases([str(w) for w in entry.get("anywhere") or []]),
            )
            for entry in data.get("subjects") or []
        ]
        for subject in subjects:
            _check_topic(subject.topic, topics, "a subject")
        pointers = _pointers(data.get("ask") or [], topics)
        vectors = embedder.embed_documents(topics)
        return cls(topics, vectors, margin, floor, words, max_age_years, subjects, pointers)

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

    def uncovered_subject(self, question: str) -> str | None:
        """The uncovered topic of a question about a pet, a plant, an elderly relative or a
        computer ("our rescue dog howls when we go out") that names no young child."""
        text = question.lower()
        if _CHILD_WORD.search(text):
            return None
        opening = " ".join(text.split()[:_OPENING_WORDS])
        ages = [text[m.end() :] for m in _CHILD_AGE.finditer(text)]  # what follows each age
        for subject in self.subjects:
            if subject.anywhere and subject.anywhere.search(text) and not ages:
                return subject.topic
            # An animal is the question's subject when it comes in the first few words ("our
            # rescue dog howls"), unless someone acts on it first ("she hits the dog"). An age is
            # then the child's, unless it is the animal's ("an 8 week old puppy") or a litter's
            # ("one of the 5 week olds"): "the cat scratched my 3 year old" is about a child.
            found = subject.opening.search(opening) if subject.opening else None
            if (
                found
                and not _PERSON.search(opening[: found.start()])
                and all(_an_animals_age(after, subject.opening) for after in ages)
            ):
                return subject.topic
        return None

    def names_uncovered_topic(self, question: str) -> bool:
        """The question uses a word that only an uncovered topic uses ("puppy", "vaping")."""
        return bool(self.words & set(re.findall(r"[a-z][a-z-]*", question.lower())))

    def who_to_ask(self, outside: str | None, query_vector: np.ndarray | None) -> str | None:
        """Who can answer a declined question instead: the pointer of the uncovered topic it
        is about, or of the topic nearest in meaning (at least `floor` close); None when that
        topic names no one better placed than the general pointer."""
        if outside == OLDER_CHILDREN:
            return self.pointers.get(_OLDER_TOPIC)
        if outside in self.pointers:
            return self.pointers[outside]
        if query_vector is None:
            return None
        topic, score = self.nearest(query_vector)
        return self.pointers.get(topic) if score >= self.floor else None

    def nearest(self, query_vector: np.ndarray) -> tuple[str, float]:
        """The uncovered topic nearest in meaning, and its cosine."""
        scores = self.vectors @ query_vector
        best = int(np.argmax(scores))
        return self.topics[best], float(scores[best])

    def outside(
        self, query_vector: np.ndarray, best_library_score: float, named: bool = False
    ) -> str | None:
        """The uncovered topic the question is about, if it is clearly closer to it. When the
        question also uses a word only uncovered topics use (`named`: "dog", "pushchair"), being
        about as close is enough."""
        topic, score = self.nearest(query_vector)
        needed = best_library_score + (-self.margin if named else self.margin)
        if score >= self.floor and score >= needed:
            return topic
        return None


def _phrases(phrases: list[str]) -> re.Pattern[str] | None:
    """One pattern matching any of the phrases as whole words (a trailing `*` allows endings)."""
    if not phrases:
        return None
    parts = [
        re.escape(phrase.lower().rstrip("*")) + (r"\w*" if phrase.endswith("*") else "")
        for phrase in phrases
    ]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b")


def _pointers(entries: list[dict], topics: list[str]) -> dict[str, str]:
    """`ask` entries as topic -> pointer text; a topic not in `topics` is a mistake."""
    pointers: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        text = " ".join(str(entry.get("text") or "").split())
        if not text:
            raise ValueError(f"{TOPICS_FILE}: ask entry {number} has no 'text'")
        for topic in entry.get("topics") or []:
            _check_topic(topic, topics, f"ask entry {number}")
            pointers[str(topic)] = text
    return pointers


def _check_topic(topic: object, topics: list[str], where: str) -> None:
    if topic not in topics:
        raise ValueError(
            f"{TOPICS_FILE}: {where} names topic {topic!r}, which is not in 'topics': copy the "
            "topic exactly"
        )


def _an_animals_age(after: str, animals: re.Pattern[str]) -> bool:
    """What follows an age ("5 weeks") says it is an animal's: "old puppy", or "olds" (a litter)."""
    after = after.lstrip(" -")
    if after.startswith("olds"):
        return True
    return bool(animals.match(after.removeprefix("old").lstrip(" -")))
