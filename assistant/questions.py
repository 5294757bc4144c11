"""The question index as the reader sees it: each section's heading and "Also asked as"
phrasings, matched densely (Chroma, through the store) or by BM25, pointing at sections."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.lexical import LexicalIndex
from assistant.models import QuestionRecord
from assistant.store import IndexStore

logger = logging.getLogger(__name__)


def build_question_lexical(records: list[QuestionRecord]) -> LexicalIndex:
    return LexicalIndex.build([r.id for r in records], [r.text for r in records])


class QuestionIndex:
    """Records by id and their BM25 index, for one generation."""

    def __init__(
        self, generation: str, records: dict[str, QuestionRecord], lexical: LexicalIndex | None
    ) -> None:
        self.generation = generation
        self.records = records
        self.lexical = lexical

    @classmethod
    def load(cls, store: IndexStore, settings: Settings, generation: str) -> QuestionIndex:
        records = {record.id: record for record in store.questions(generation)}
        if not records:
            return cls(generation, {}, None)
        directory = settings.question_lexical_dir / generation
        if directory.is_dir():
            lexical = LexicalIndex.load(directory)
        else:
            # Another machine built this generation (a shared Chroma server): rebuild locally.
            logger.info("building the question lexical index for %s locally", generation)
            lexical = build_question_lexical(list(records.values()))
            lexical.save(directory)
        return cls(generation, records, lexical)

    def search_lexical(self, query: str, k: int) -> list[tuple[QuestionRecord, float]]:
        if self.lexical is None:
            return []
        return [
            (self.records[record_id], score)
            for record_id, score in self.lexical.search(query, k)
            if record_id in self.records
        ]

    def search_dense(
        self,
        store: IndexStore,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[QuestionRecord, float]]:
        return store.query_questions(self.generation, vector, k, where)
