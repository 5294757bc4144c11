"""Stage 4: turn chunks into normalised vectors with the embedding model, in batches."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from assistant.embeddings import Embedder
from assistant.models import Chunk

logger = logging.getLogger(__name__)


def embed_chunks(embedder: Embedder, chunks: Sequence[Chunk], *, progress: bool) -> np.ndarray:
    if not chunks:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    logger.info("embedding %d chunks", len(chunks))
    return embedder.embed_documents([chunk.embedding_text() for chunk in chunks], progress=progress)
