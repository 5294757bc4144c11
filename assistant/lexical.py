"""The lexical (BM25) index over the same chunks as the vector index, stored per generation."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import bm25s
import Stemmer

logger = logging.getLogger(__name__)

_IDS_FILE = "chunk_ids.json"
_STEMMER = Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """The same stemmed, stop-word-free terms BM25 uses, for scoring sentences."""
    tokens = bm25s.tokenize(
        [text], stopwords="en", stemmer=_STEMMER, show_progress=False, return_ids=False
    )
    return list(tokens[0]) if tokens else []


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25, chunk_ids: list[str]) -> None:
        self._retriever = retriever
        self.chunk_ids = chunk_ids
        self._stemmer = Stemmer.Stemmer("english")

    @classmethod
    def build(cls, chunk_ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer, show_progress=False)
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
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False)
        if not tokens.vocab or not self.chunk_ids:
            return []
        k = min(k, len(self.chunk_ids))
        documents, scores = self._retriever.retrieve(tokens, k=k, show_progress=False)
        return [
            (self.chunk_ids[int(index)], float(score))
            for index, score in zip(documents[0], scores[0], strict=True)
            if score > 0
        ]
