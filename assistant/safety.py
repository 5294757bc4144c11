"""Safety triage: deterministic, first, and independent of the index.

Three layers, any of which is enough; when several rules fire, the most urgent category wins:

1. Phrase patterns (`patterns.yaml`) on the normalised message (case, punctuation, contractions,
   abbreviations and misspellings evened out).
2. Red-flag concepts (`concepts.yaml`): groups of words from published red-flag lists that fire
   together ("funny grey colour" + "not really with me").
3. A learned classifier over the message's embedding (`classifier.json`, trained by
   `nurture train-safety`), when the model is loaded and layers 1 and 2 found nothing.

Layers 1 and 2 need no model, index or database, so triage still works when those fail. Every
result records which layer and which rule fired (`matched`), for trainers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.models import SAFETY_PRIORITY, SafetyCategory, SafetyInfo
from assistant.safety_classifier import SafetyClassifier
from assistant.safety_concepts import ConceptLayer
from assistant.text import Normaliser, load_known_words, load_replacements

logger = logging.getLogger(__name__)

RULES_DIR = Path(__file__).parent / "safety_rules"
CLASSIFIER_FILE = RULES_DIR / "classifier.json"
# Categories about a live situation, set aside for a general or training question.
_LIVE_ONLY = {"emergency", "safeguarding"}
# A message with letters in it but almost no English words is answered with a note that Nurture
# reads English (and the 999 and NHS 111 lines), rather than searched.
_MIN_WORDS_FOR_LANGUAGE = 6
# Below this many words ("and what about afterwards?") an embedding says too little about
# danger for the classifier to judge; the rules still read every message.
_MIN_WORDS_FOR_CLASSIFIER = 5
# The tokenizer's vocabulary knows many short foreign words ("los", "bien"), so the bar is high.
_MIN_ENGLISH_SHARE = 0.6


class SafetyResult(SafetyInfo):
    """The triage decision. `matched` says which layer fired: pattern:<id>, concept:<id> or
    classifier:<category>:<probability>."""


@dataclass(frozen=True)
class Rule:
    category: SafetyCategory
    id: str
    regex: re.Pattern[str]


class SafetyTriage:
    def __init__(
        self,
        rules_dir: Path = RULES_DIR,
        *,
        known_words: set[str] | None = None,
        classifier: SafetyClassifier | None = None,
    ) -> None:
        self.rules_dir = rules_dir
        data = yaml.safe_load((rules_dir / "patterns.yaml").read_text())
        fragments: dict[str, str] = data.get("fragments", {})
        self.rules: list[Rule] = []
        vocabulary: set[str] = set()
        for category in SAFETY_PRIORITY:
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
        self.concepts = ConceptLayer(rules_dir / "concepts.yaml")
        self.normalise = Normaliser(
            vocabulary | self.concepts.vocabulary,
            known_words,
            load_replacements(rules_dir / "normalise.yaml"),
        )
        self.messages: dict[str, str] = yaml.safe_load((rules_dir / "messages.yaml").read_text())
        missing = {*SAFETY_PRIORITY, "not_english"} - set(self.messages)
        if missing:
            raise ValueError(f"{rules_dir / 'messages.yaml'} has no message for {sorted(missing)}")
        self.classifier = classifier
        concepts = yaml.safe_load((rules_dir / "concepts.yaml").read_text(encoding="utf-8"))
        self._health_worry = re.compile(
            r"\b(?:" + "|".join(t.strip() for t in concepts["health_worry"].split(" | ")) + r")\b"
        )
        fitting = yaml.safe_load((rules_dir / "after_safety.yaml").read_text(encoding="utf-8"))
        self.fitting_topics = {
            category: {_topic(t) for t in fitting.get(category, [])} for category in SAFETY_PRIORITY
        }

    def health_worry(self, text: str) -> bool:
        """Any sign of a health or danger worry, even one that triaged to nothing."""
        return bool(self._health_worry.search(self.normalise(text)))

    def fits(self, category: SafetyCategory, topics: list[str]) -> bool:
        """Whether a document with these topics may be quoted after this category's message."""
        return bool(self.fitting_topics.get(category, set()) & {_topic(t) for t in topics})

    def match_patterns(
        self, normalised: str, live: bool = True
    ) -> tuple[SafetyCategory, str] | None:
        padded = f" {normalised} "
        for rule in self.rules:
            if not live and rule.category in _LIVE_ONLY:
                continue
            if rule.regex.search(padded):
                return rule.category, f"pattern:{rule.id}"
        return None

    def is_live(self, normalised: str) -> bool:
        """False for a general or training question ("for my course", "hypothetically")."""
        padded = f" {normalised} "
        return not any(regex.search(padded) for regex in self.general)

    def decisions(
        self, text: str, vector: np.ndarray | None = None
    ) -> list[tuple[SafetyCategory, str]]:
        """Every layer's decision, in layer order: patterns, concepts, classifier."""
        normalised = self.normalise(text)
        live = self.is_live(normalised)
        found: list[tuple[SafetyCategory, str]] = []
        pattern = self.match_patterns(normalised, live)
        if pattern:
            found.append(pattern)
        found += [(c.category, f"concept:{c.id}") for c in self.concepts.fired(normalised, live)]
        # The learned layer speaks only when the readable layers are silent, so a trainer can
        # always see, in the files, why a message they can read was triaged as it was.
        if (
            not found
            and vector is not None
            and self.classifier is not None
            and len(normalised.split()) >= _MIN_WORDS_FOR_CLASSIFIER
        ):
            decided = self.classifier.decide(vector)
            if decided and (live or decided[0] not in _LIVE_ONLY):
                found.append((decided[0], f"classifier:{decided[0]}:{decided[1]:.2f}"))
        return found

    def triage(self, text: str, vector: np.ndarray | None = None) -> SafetyResult:
        found = self.decisions(text, vector)
        if not found:
            if self.unreadable(text):
                return SafetyResult(
                    message=self.messages["not_english"].strip(), matched="language"
                )
            return SafetyResult()
        # The most urgent category wins; within it, the first layer that found it is recorded.
        category, matched = min(found, key=lambda item: SAFETY_PRIORITY.index(item[0]))
        return SafetyResult(
            category=category, message=self.messages[category].strip(), matched=matched
        )

    def unreadable(self, text: str) -> bool:
        """Words, but hardly any English ones: another language, or keyboard mashing."""
        known = self.normalise.known_words
        words = re.findall(r"[^\W\d_]+", text.lower())
        if not known or len(words) < _MIN_WORDS_FOR_LANGUAGE:
            return False
        english = sum(1 for word in self.normalise(" ".join(words)).split() if word in known)
        return english / len(words) < _MIN_ENGLISH_SHARE


def _topic(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", str(text).lower()).strip()


def build_triage(settings: Settings, embedder: Embedder | None = None) -> SafetyTriage:
    """Triage for these settings: patterns and concepts always, the classifier when the model
    that it was trained with is the one loaded."""
    model_path: str | None = None
    try:
        model_path = settings.resolved_model_path()
    except Exception:  # noqa: BLE001 - no model package: triage still works on patterns
        logger.warning("embedding model not found; safety triage runs on patterns and concepts")
    classifier = (
        load_classifier(settings.safety_classifier_path, embedder.name) if embedder else None
    )
    return SafetyTriage(known_words=load_known_words(model_path), classifier=classifier)


def load_classifier(path: Path, model_name: str) -> SafetyClassifier | None:
    """The trained head, if it exists and was trained on vectors from this model."""
    if not path.exists():
        logger.warning("no safety classifier at %s: run 'nurture train-safety'", path)
        return None
    classifier = SafetyClassifier.load(path)
    if classifier.model != model_name:
        logger.warning(
            "safety classifier %s was trained with model %s, not %s: patterns and concepts only "
            "(run 'nurture train-safety')",
            path,
            classifier.model,
            model_name,
        )
        return None
    return classifier
