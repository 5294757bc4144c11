"""The lexical (BM25) index over the same chunks as the vector index, stored per generation."""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

logger = logging.getLogger(__name__)

_IDS_FILE = "chunk_ids.json"
# bm25s' own tokenizer, reproduced: it is slow per call (a progress bar object each time) and
# a shared stemmer is unsafe across the threads that serve requests.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    if not hasattr(_local, "stemmer"):
        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer


@lru_cache(maxsize=16384)
def _terms(text: str) -> tuple[str, ...]:
    words = [word for word in _TOKEN.findall(text.lower()) if word not in _STOPWORDS]
    return tuple(_stemmer().stemWords(words))


def tokenize(text: str) -> list[str]:
    """The stemmed, stop-word-free terms BM25 indexes (the same as bm25s.tokenize)."""
    return list(_terms(text))


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25, chunk_ids: list[str]) -> None:
        self._retriever = retriever
        self.chunk_ids = chunk_ids
        self._vocabulary = set(retriever.vocab_dict)

    @classmethod
    def build(cls, chunk_ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        tokens = bm25s.tokenize(
            list(texts), stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever, list(chunk_ids))

    def save(self, directory: Path) -> None:
        """Write to a temporary folder beside `directory`, then rename: never half-written."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        self._retriever.save(str(staging), show_progress=False)
        (staging / _IDS_FILE).write_text(json.dumps(self.chunk_ids))
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        retriever = bm25s.BM25.load(str(directory), mmap=False)
        chunk_ids = json.loads((directory / _IDS_FILE).read_text())
        return cls(retriever, chunk_ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        terms = [term for term in tokenize(query) if term in self._vocabulary]
        if not terms or not self.chunk_ids:
            return []
        k = min(k, len(self.chunk_ids))
        documents, scores = self._retriever.retrieve([terms], k=k, show_progress=False)
        return [
            (self.chunk_ids[int(index)], float(score))
            for index, score in zip(documents[0], scores[0], strict=True)
            if score > 0
        ]
