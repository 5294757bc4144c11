"""Safety triage: deterministic, first, and independent of the index.

Three layers, any of which is enough; when several rules fire, the most urgent category wins:

1. Phrase patterns (`patterns.yaml`) on the normalised message (case, punctuation, contractions,
   abbreviations and misspellings evened out).
2. Red-flag concepts (`concepts.yaml`): groups of words from published red-flag lists that fire
   together ("funny grey colour" + "not really with me").
3. The bundled MiniLM fine-tuned as a classifier (`classifier.safetensors`, trained by
   `nurture train-safety`), on the message's own words, when it is loaded and layers 1 and 2
   found nothing, or found only a medical symptom (which it may raise to a more urgent category),
   or found safeguarding or a carer crisis (which it may raise to an emergency).

Layers 1 and 2 need no model, index or database, so triage still works when those fail. Every
result records which layer and which rule fired (`matched`), for trainers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from assistant.config import Settings
from assistant.lexical import tokenize
from assistant.models import SAFETY_PRIORITY, SafetyCategory, SafetyInfo
from assistant.rule_files import load_rule_file
from assistant.safety_classifier import SafetyClassifier, TokenStates, read_metadata
from assistant.safety_concepts import ConceptLayer, alternation
from assistant.safety_thresholds import Gate
from assistant.text import Normaliser, load_known_words, load_replacements, other_language

logger = logging.getLogger(__name__)

RULES_DIR = Path(__file__).parent / "safety_rules"
CLASSIFIER_FILE = RULES_DIR / "classifier.safetensors"
# Categories about a live situation, set aside for a general or training question.
_LIVE_ONLY = {"emergency", "safeguarding"}
# A message with letters in it but almost no English words is answered with a note that Nurture
# reads English (and the 999 and NHS 111 lines), rather than searched.
_MIN_WORDS_FOR_LANGUAGE = 6
_LETTERS = re.compile(r"[^\W\d_]+")
# Below this many words ("and what about afterwards?") an embedding says too little about
# danger for the classifier to judge; the rules still read every message.
MIN_WORDS_FOR_CLASSIFIER = 5
# The tokenizer's vocabulary knows many short foreign words ("los", "bien"), so the bar is high.
_MIN_ENGLISH_SHARE = 0.6


class SafetyResult(SafetyInfo):
    """The triage decision. `matched` says which layer fired: pattern:<id>, concept:<id> or
    classifier:<category>:<probability>. `routine`: the message only says who can check a
    health worry only the classifier heard, or answer a medicine or diagnosis question, so the
    answer that follows is chosen as for any question."""

    routine: bool = Field(False, exclude=True)

    @property
    def limits_quotes(self) -> bool:
        """Whether the answer after this message keeps to guidance about the situation."""
        return self.category != "none" and not self.routine


@dataclass(frozen=True)
class Rule:
    category: SafetyCategory
    id: str
    regex: re.Pattern[str]
    distress: bool = False  # carer crisis heard as distress, not a risk of harm (patterns.yaml)
    symptom: bool = False  # a medical rule about how the child is, not a question (patterns.yaml)
    unless: re.Pattern[str] | None = None  # a calm or figurative use anywhere sets it aside


# Messages besides one per category: another language, a carer in distress, a health worry only
# the classifier heard, the fever rule.
_MESSAGE_VARIANTS = (
    "not_english",
    "carer_support",
    "medical_check",
    "medical_question",
    "medical_fever",
)

# The variants that only say who can check a health worry or answer a medicine or diagnosis
# question: no call to act now. (A carer in distress keeps guidance about coping.)
_ROUTINE_MESSAGES = frozenset({"medical_check", "medical_question"})


class SafetyTriage:
    def __init__(
        self,
        rules_dir: Path = RULES_DIR,
        *,
        known_words: set[str] | None = None,
        classifier: SafetyClassifier | None = None,
    ) -> None:
        self.rules_dir = rules_dir
        data = load_rule_file(rules_dir / "patterns.yaml")
        fragments: dict[str, str] = data.get("fragments", {})
        self.concepts = ConceptLayer(rules_dir / "concepts.yaml")
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
                where = f"{rules_dir / 'patterns.yaml'}: pattern {entry['id']!r}"
                unless = entry.get("unless")
                self.rules.append(
                    Rule(
                        category,
                        entry["id"],
                        regex,
                        _flag(entry, "distress", category, "carer_crisis", where),
                        _flag(entry, "symptom", category, "medical", where),
                        alternation(unless, self.concepts.terms, f"{where}: unless")
                        if unless
                        else None,
                    )
                )
                vocabulary.update(re.findall(r"[a-z]{6,}", re.sub(r"\\[a-z]", " ", source)))
        self.general = [re.compile(pattern) for pattern in data.get("general", [])]
        # Decisions the classifier may raise: symptom concepts (`symptom: true`), never a dose or
        # diagnosis question ("does my baby have autism? he doesn't look at me" is no emergency).
        self._raisable = {f"concept:{c.id}" for c in self.concepts.concepts if c.symptom}
        # Medical decisions about how the child is; the others ask about a medicine or a
        # diagnosis, and get the "who can answer" message rather than "today".
        self._symptoms = self._raisable | {f"pattern:{r.id}" for r in self.rules if r.symptom}
        # Crisis decisions that hear distress, not a risk of harm (`distress: true`).
        self._distress = {f"pattern:{r.id}" for r in self.rules if r.distress} | {
            f"concept:{c.id}" for c in self.concepts.concepts if c.distress
        }
        self.normalise = Normaliser(
            vocabulary | self.concepts.vocabulary,
            known_words,
            load_replacements(rules_dir / "normalise.yaml"),
        )
        self.figures = _figures_of_speech(rules_dir / "normalise.yaml")
        self.messages: dict[str, str] = load_rule_file(rules_dir / "messages.yaml")
        missing = {*SAFETY_PRIORITY, *_MESSAGE_VARIANTS} - set(self.messages)
        if missing:
            raise ValueError(f"{rules_dir / 'messages.yaml'} has no message for {sorted(missing)}")
        self.classifier = classifier
        # Words the library itself uses ("toddler", "purees"): English, though the model's
        # vocabulary may not hold them whole (`learn_words`).
        self.library_words: frozenset[str] = frozenset()
        fitting = load_rule_file(rules_dir / "after_safety.yaml")
        self.fitting_topics = {
            category: {_topic(t) for t in fitting.get(category, [])} for category in SAFETY_PRIORITY
        }

    def health_worry(self, text: str) -> bool:
        """Any sign of a health or danger worry, even one that triaged to nothing."""
        return bool(self.concepts.word_lists["health_worry"].search(self.normalise(text)))

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
            # `unless` reads the message as the concepts do (unpadded), so a shared term list
            # such as `seizure_settled` can anchor at its start with `^`.
            if rule.regex.search(padded) and not (rule.unless and rule.unless.search(normalised)):
                return rule.category, f"pattern:{rule.id}"
        return None

    def is_live(self, normalised: str) -> bool:
        """False for a general or training question ("for my course", "hypothetically")."""
        padded = f" {normalised} "
        return not any(regex.search(padded) for regex in self.general)

    def decisions(self, text: str, *, classify: bool = True) -> list[tuple[SafetyCategory, str]]:
        """Every layer's decision, in layer order: patterns, concepts, classifier (when
        `classify` and the classifier is loaded)."""
        text = self.literal(text)
        return self._decisions(text, self.normalise(text), classify)

    def _decisions(
        self, text: str, normalised: str, classify: bool
    ) -> list[tuple[SafetyCategory, str]]:
        live = self.is_live(normalised)
        found = self._rule_decisions(normalised, live)
        # The learned layer speaks when the readable layers are silent, or raises a symptom
        # they read as medical; the record always names the layer that decided.
        may = self._classifier_may(normalised, live, found)
        if classify and may and self.classifier is not None:
            decided = self.classifier.decide(text)
            if decided and decided[0] in may:
                found.append((decided[0], f"classifier:{decided[0]}:{decided[1]:.2f}"))
        return found

    def classifier_gate(self, text: str) -> Gate:
        """What the rule layers decide alone, and which categories the classifier may add:
        what training needs to choose thresholds as triage will use them."""
        normalised = self.normalise(self.literal(text))
        live = self.is_live(normalised)
        found = self._rule_decisions(normalised, live)
        rules = min(found, key=lambda f: SAFETY_PRIORITY.index(f[0]))[0] if found else "none"
        return Gate(rules, self._classifier_may(normalised, live, found))

    def _rule_decisions(self, normalised: str, live: bool) -> list[tuple[SafetyCategory, str]]:
        found: list[tuple[SafetyCategory, str]] = []
        pattern = self.match_patterns(normalised, live)
        if pattern:
            found.append(pattern)
        found += [(c.category, f"concept:{c.id}") for c in self.concepts.fired(normalised, live)]
        return found

    def _classifier_may(
        self, normalised: str, live: bool, found: list[tuple[SafetyCategory, str]]
    ) -> frozenset[SafetyCategory]:
        """The categories the classifier may add: any when the rules found nothing; a more
        urgent one when all they found is a symptom concept read as "medical" ("breathing fast
        with a cold", where the classifier may see the grunting and the blue lips); an emergency
        when they found safeguarding or a carer crisis ("pills in his bag after contact, some
        chewed, and he's drowsy"). Never when a rule found a dose or diagnosis question or an
        emergency; never emergency or safeguarding for a general question; never an emergency
        where a calm reading is written down (`calm_readings`); never safeguarding for a child's
        own hitting or biting (`child_behaviour`); nothing for a few words."""
        if len(normalised.split()) < MIN_WORDS_FOR_CLASSIFIER:
            return frozenset()
        if found and not all(matched in self._raisable for _, matched in found):
            urgent = min(found, key=lambda item: SAFETY_PRIORITY.index(item[0]))[0]
            allowed: tuple[SafetyCategory, ...] = (
                ("emergency",) if urgent in ("safeguarding", "carer_crisis") else ()
            )
        elif found:
            allowed = SAFETY_PRIORITY[: SAFETY_PRIORITY.index("medical")]
        else:
            allowed = SAFETY_PRIORITY
        words = self.concepts.word_lists
        calm = words["calm_readings"].search(normalised)
        behaviour = words["child_behaviour"].search(normalised) and not words[
            "harm_context"
        ].search(normalised)
        return frozenset(
            c
            for c in allowed
            if (live or c not in _LIVE_ONLY)
            and not (calm and c == "emergency")
            and not (behaviour and c == "safeguarding")
        )

    def literal(self, text: str) -> str:
        """The message with its figures of speech ("kill for a lie-in") read as what they mean."""
        for saying, meaning in self.figures:
            text = saying.sub(meaning, text)
        return text

    def triage(self, text: str, *, classify: bool = True) -> SafetyResult:
        text = self.literal(text)
        normalised = self.normalise(text)
        # The classifier reads English only; on another language its guess is noise. The cheap
        # language model runs on every message, the word count only when nothing fired.
        foreign = self.foreign(text)
        found = self._decisions(text, normalised, classify and not foreign)
        if not found:
            if foreign or self.unreadable(text):
                return SafetyResult(
                    message=self.messages["not_english"].strip(), matched="language"
                )
            return SafetyResult()
        # The most urgent category wins; within it, the first layer that found it is recorded.
        category, matched = min(found, key=lambda item: SAFETY_PRIORITY.index(item[0]))
        key: str = category
        if category == "carer_crisis" and self._distress_only(found, normalised):
            key = "carer_support"
        if category == "medical" and all(m.startswith("classifier:") for _, m in found):
            key = "medical_check"
        elif category == "medical" and not any(m in self._symptoms for _, m in found):
            key = "medical_question"
        message = self.messages[key]
        if category == "medical" and self.concepts.word_lists["fever_words"].search(normalised):
            message = self._with_fever_rule(message)
        return SafetyResult(
            category=category,
            message=message.strip(),
            matched=matched,
            routine=key in _ROUTINE_MESSAGES,
        )

    def _with_fever_rule(self, message: str) -> str:
        """The medical message with the under-3-months fever rule after its first line."""
        line_end = message.index("\n", message.index("\n- ") + 1)
        rule = self.messages["medical_fever"].strip()
        return f"{message[:line_end]} {rule}{message[line_end:]}"

    def _distress_only(self, found: list[tuple[SafetyCategory, str]], normalised: str) -> bool:
        """The carer sounds overwhelmed but says nothing of hurting anyone: only the
        classifier or a `distress: true` rule found the crisis, and no word of losing control."""
        crisis = [matched for category, matched in found if category == "carer_crisis"]
        return all(
            matched.startswith("classifier:") or matched in self._distress for matched in crisis
        ) and not self.concepts.word_lists["losing_control"].search(normalised)

    def learn_words(self, terms: Iterable[str]) -> None:
        """Count words with these stemmed terms (the library's own) as English in
        `unreadable`."""
        self.library_words = frozenset(terms)

    def foreign(self, text: str) -> bool:
        """Long enough to tell, and written in another language (a language model's reading)."""
        return len(_LETTERS.findall(text)) >= _MIN_WORDS_FOR_LANGUAGE and other_language(text)

    def unreadable(self, text: str) -> bool:
        """Words, but hardly any English ones: keyboard mashing, or a language the model missed."""
        known = self.normalise.known_words
        words = _LETTERS.findall(text.lower())
        if not known or len(words) < _MIN_WORDS_FOR_LANGUAGE:
            return False
        english = sum(
            1
            for word in self.normalise(" ".join(words)).split()
            if word in known or not self.library_words.isdisjoint(tokenize(word))
        )
        return english / len(words) < _MIN_ENGLISH_SHARE


def _flag(entry: dict[str, object], name: str, category: str, only_for: str, where: str) -> bool:
    """A pattern's yes/no flag (`distress`, `symptom`), which only one category may set."""
    value = entry.get(name, False)
    if value not in (True, False) or (value and category != only_for):
        raise ValueError(f"{where}: '{name}: true' is for {only_for} patterns only")
    return bool(value)


def _figures_of_speech(path: Path) -> list[tuple[re.Pattern[str], str]]:
    figures = []
    for number, entry in enumerate(load_rule_file(path).get("figures_of_speech") or []):
        try:
            figures.append((re.compile(entry["say"], re.IGNORECASE), str(entry["means"])))
        except (KeyError, TypeError, re.error) as error:
            raise ValueError(
                f"{path}: figures_of_speech entry {number + 1}: give 'say' (a valid regular "
                f"expression) and 'means' ({error})"
            ) from None
    return figures


def _topic(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", str(text).lower()).strip()


def build_triage(
    settings: Settings,
    *,
    classifier: bool = False,
    trunk: TokenStates | None = None,
) -> SafetyTriage:
    """Triage for these settings: patterns and concepts always; with `classifier`, the
    fine-tuned classifier too when it loads for the configured model (see `load_classifier`
    for `trunk`)."""
    model_path: str | None = None
    try:
        model_path = settings.resolved_model_path()
    except Exception:  # noqa: BLE001 - no model package: triage still works on patterns
        logger.warning("embedding model not found; safety triage runs on patterns and concepts")
    learned = (
        load_classifier(settings, model_path, trunk=trunk) if classifier and model_path else None
    )
    return SafetyTriage(known_words=load_known_words(model_path), classifier=learned)


def load_classifier(
    settings: Settings,
    model_path: str,
    *,
    trunk: TokenStates | None = None,
) -> SafetyClassifier | None:
    """The fine-tuned classifier, if it exists, was trained from the configured model and
    loads; else None, and triage runs on patterns and concepts (the log says why). It runs with
    ONNX Runtime when the embedder does (`embed_backend`), else with PyTorch. With `trunk` (the
    embedder's `token_states`), a query the embedder has just seen runs only the adapted
    layers."""
    path = settings.safety_classifier_path
    if not path.exists():
        logger.warning("no safety classifier at %s: run 'nurture train-safety'", path)
        return None
    try:
        trained_from = read_metadata(path).get("model")
        if trained_from != settings.model_name:
            logger.warning(
                "safety classifier %s was trained from model %s, not %s: patterns and concepts "
                "only (run 'nurture train-safety')",
                path,
                trained_from,
                settings.model_name,
            )
            return None
        onnx = settings.embed_backend == "onnx"
        loaded = SafetyClassifier.load(
            path,
            model_path,
            onnx_cache=settings.model_cache_path if onnx else None,
            threads=settings.embed_threads,
        )
        return loaded.with_trunk(trunk) if trunk is not None else loaded
    except Exception as error:  # noqa: BLE001 - triage must work without the classifier
        logger.warning(
            "safety classifier %s did not load (%s): patterns and concepts only (run "
            "'nurture train-safety')",
            path,
            type(error).__name__,
        )
        return None
