"""Cleaning carers' typing: one normaliser for safety triage and for search queries.

Lower-cases, drops punctuation, expands contractions and abbreviations ("isnt", "bubs"), and
corrects misspellings of words it knows (`vocabulary`) by edit distance. Real English words
(`known_words`: the model's tokenizer and a word-frequency list) are never "corrected", so "shape"
stays "shape".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from rapidfuzz.distance import OSA

from assistant.rule_files import load_rule_file

NORMALISE_FILE = Path(__file__).parent / "safety_rules" / "normalise.yaml"
_MIN_CORRECTABLE = 6
# Below this, wordfreq's words include common misspellings ("shakin" 2.6, "concious" 1.9) that
# should still be corrected; "smearing" is 2.8 and "nappy" 2.9.
DICTIONARY_MIN_ZIPF = 2.75
# No English carer message of six words or more in the safety data, the gold set or the realistic
# question sets (12,977 messages) is read as another language at even 0.9.
OTHER_LANGUAGE_PROBABILITY = 0.95


def load_replacements(path: Path = NORMALISE_FILE) -> dict[str, str]:
    data = load_rule_file(path)
    return {
        **{str(k): str(v) for k, v in (data.get("replacements") or {}).items()},
        **{str(k): str(v) for k, v in (data.get("misspellings") or {}).items()},
    }


def load_known_words(model_path: str | None, min_zipf: float = DICTIONARY_MIN_ZIPF) -> set[str]:
    """Real English words, never to be "corrected": the whole words of the model's tokenizer
    vocabulary (if the model is on disk) and the words wordfreq counts at least `min_zipf` (its
    Zipf scale: 3 is once per million words). The tokenizer alone lacks everyday words such as
    "shaming" and "smearing", which were being "corrected" into "shaking" and "staring"."""
    words = set(_common_words(min_zipf))
    vocab = Path(model_path) / "vocab.txt" if model_path else None
    if vocab is not None and vocab.exists():
        words |= {
            line.strip()
            for line in vocab.read_text(encoding="utf-8").splitlines()
            if line.strip().isalpha() and not line.startswith("##")
        }
    return words


@lru_cache(maxsize=2)
def _common_words(min_zipf: float) -> frozenset[str]:
    from wordfreq import get_frequency_dict

    floor = 10 ** (min_zipf - 9)
    shares = get_frequency_dict("en")
    return frozenset(word for word, share in shares.items() if share >= floor and word.isalpha())


def other_language(text: str, min_probability: float = OTHER_LANGUAGE_PROBABILITY) -> bool:
    """Written in a language other than English, by py3langid's character n-gram model (shipped
    inside the package). Counting English words alone lets French and German through: many of
    their short words ("de", "pas", "will", "was") are English words too."""
    language, probability = _language_identifier().classify(text)
    return language != "en" and probability >= min_probability


@lru_cache(maxsize=1)
def _language_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class Normaliser:
    def __init__(
        self,
        vocabulary: Iterable[str],
        known_words: set[str] | None = None,
        replacements: dict[str, str] | None = None,
        min_correctable: int = _MIN_CORRECTABLE,
        frequency: dict[str, int] | None = None,
    ) -> None:
        # Between equally close words: a dropped or doubled letter before a changed one
        # ("shoud" is "should", not "shout"; "bitting" is "biting", not "sitting"), then the
        # more frequent word.
        self.frequency = frequency or {}
        self.replacements = load_replacements() if replacements is None else replacements
        self.min_correctable = min_correctable
        vocab = {word for word in vocabulary if len(word) >= min_correctable and word.isalpha()}
        self._by_length: dict[int, list[str]] = {}
        for word in sorted(vocab):
            self._by_length.setdefault(len(word), []).append(word)
        self.known_words = known_words or set()
        self._known = self.known_words | vocab | set(self.replacements.values())
        self._cache: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).lower()
        text = re.sub(r"[\u2018\u2019\u02bc`']", "", text)
        text = re.sub(r"[^a-z0-9]+", " ", text)
        words = []
        for word in text.split():
            replaced = self.replacements.get(word)
            words.append(replaced if replaced is not None else self.correct(word))
        return " ".join(words)

    def correct(self, word: str) -> str:
        if len(word) < self.min_correctable or word in self._known or not word.isalpha():
            return word
        if word in self._cache:
            return self._cache[word]
        limit = 1 if len(word) < 8 else 2
        best, best_key = word, (limit + 1, False, 0)
        for length in range(len(word) - limit, len(word) + limit + 1):
            for candidate in self._by_length.get(length, ()):
                distance = OSA.distance(word, candidate, score_cutoff=limit)
                key = (distance, len(candidate) == len(word), -self.frequency.get(candidate, 0))
                if distance <= limit and key < best_key:
                    best, best_key = candidate, key
        self._cache[word] = best
        return best
