"""The embedding model, behind a small protocol so tests and other models can stand in."""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import tempfile
import threading
from concurrent.futures import Future
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.onnx_model import OnnxModel

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """An embedding model. `embed_documents` is the one batch method (queries and passages
    alike: the model has no query prompt); `embed_query` is one text through it."""

    name: str
    max_tokens: int

    @property
    def dimension(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class SharesTokenStates(Protocol):
    """An embedder that keeps a query's per-layer token states a while, so the safety
    classifier (the same model below its adapted layers) does not compute them again."""

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def token_states(self, text: str, layer: int) -> np.ndarray | None: ...


class SentenceTransformerEmbedder:
    """A local sentence-transformers model. Loads lazily, once, and never from the network.

    `backend="onnx"` runs the same model with ONNX Runtime (exported once into `cache_dir`);
    `"torch"` runs it with PyTorch through sentence-transformers. Their vectors agree."""

    def __init__(
        self,
        model_path: str,
        name: str,
        batch_size: int = 32,
        *,
        backend: Literal["onnx", "torch"] = "torch",
        cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        if not Path(model_path).is_dir():
            raise ConfigError(
                f"embedding model folder not found: {model_path} "
                "(set NURTURE_MODEL_PATH to a local sentence-transformers model, or leave it "
                "empty for the bundled all-MiniLM-L6-v2)"
            )
        self.model_path = model_path
        self.name = name
        self.batch_size = batch_size
        self.max_tokens = _read_max_tokens(Path(model_path))
        self.backend = backend
        cache_dir = cache_dir or Path(tempfile.gettempdir()) / "nurture-models"
        self._onnx = (
            OnnxModel(Path(model_path), cache_dir, self.max_tokens, threads)
            if backend == "onnx"
            else None
        )

    @cached_property
    def model(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        logger.info("loading embedding model %s", self.name)
        model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        model.max_seq_length = self.max_tokens
        return model

    @cached_property
    def _tokenizer(self):  # a tokenizers.Tokenizer, imported lazily
        from tokenizers import Tokenizer

        path = Path(self.model_path) / "tokenizer.json"
        tokenizer = (
            Tokenizer.from_file(str(path))
            if path.exists()
            else self.model.tokenizer.backend_tokenizer
        )
        # Counting must see every token: the file may enable padding or truncation.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    @property
    def dimension(self) -> int:
        if self._onnx is not None:
            return self._onnx.dimension
        return int(self.model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(texts, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """As `embed_documents`; with ONNX Runtime each query's token states are also kept."""
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size, keep_states=True)
        return self._encode(texts, progress=False)

    def token_states(self, text: str, layer: int) -> np.ndarray | None:
        return self._onnx.token_states(text, layer) if self._onnx is not None else None

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and sys.stderr.isatty(),
        )
        return vectors.astype(np.float32)


def _read_max_tokens(model_path: Path) -> int:
    config = model_path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(
        settings.resolved_model_path(),
        settings.model_name,
        settings.embed_batch_size,
        backend=settings.embed_backend,
        cache_dir=settings.model_cache_path,
        threads=settings.embed_threads,
    )


class BatchingEmbedder:
    """Embeds concurrent queries together: one model call for every query waiting.

    Under load a batch of 16 short queries costs about a quarter of 16 separate calls on a
    CPU; with no concurrency each query is embedded at once, so nothing waits for a timer."""

    def __init__(self, inner: Embedder, max_batch: int = 64) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[str, Future[np.ndarray]]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.inner.embed_documents(texts, progress=progress)

    def token_states(self, text: str, layer: int) -> np.ndarray | None:
        if isinstance(self.inner, SharesTokenStates):
            return self.inner.token_states(text, layer)
        return None

    def embed_query(self, text: str) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        self._queue.put((text, future))
        self._ensure_worker()
        return future.result()

    def _ensure_worker(self) -> None:
        if self._worker is None:
            with self._lock:
                if self._worker is None:
                    self._worker = threading.Thread(
                        target=self._run, name="query-embedder", daemon=True
                    )
                    self._worker.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                texts = [text for text, _ in batch]
                vectors = (
                    self.inner.embed_queries(texts)
                    if isinstance(self.inner, SharesTokenStates)
                    else self.inner.embed_documents(texts)
                )
                for (_, future), vector in zip(batch, vectors, strict=True):
                    future.set_result(vector)
            except Exception as error:  # noqa: BLE001 - every waiting caller gets the error
                for _, future in batch:
                    future.set_exception(error)
