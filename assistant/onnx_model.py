"""A local sentence-transformers model exported once to ONNX and run with ONNX Runtime.

On this kind of CPU ONNX Runtime embeds a short question about three times faster than PyTorch,
and its vectors match the PyTorch model's (cosine > 0.9999), so an index built by either serves
queries from the other. The export reads only the local model folder and is cached by content."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock

from assistant.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime
    import torch
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

# Bump when the export itself changes, so cached exports are rebuilt.
EXPORT_VERSION = "1"
TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
SUPPORTED_POOLING = ("mean", "cls")


class OnnxModel:
    """Transformer -> mean or CLS pooling -> optional normalisation, as the model folder says."""

    def __init__(self, model_path: Path, cache_dir: Path, max_tokens: int, threads: int = 0):
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.max_tokens = max_tokens
        self.threads = threads
        self.pooling, self.normalize = _read_modules(model_path)

    @cached_property
    def onnx_path(self) -> Path:
        return self.cache_dir / f"{self.model_path.name}-{fingerprint(self.model_path)}.onnx"

    @cached_property
    def session(self) -> onnxruntime.InferenceSession:

        if not self.onnx_path.exists():
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                with FileLock(str(self.onnx_path) + ".lock"):
                    if not self.onnx_path.exists():
                        export(self.model_path, self.onnx_path)
            except OSError as error:
                raise ConfigError(
                    f"cannot write the ONNX export to {self.cache_dir} ({error.strerror}); set "
                    "NURTURE_MODEL_CACHE_DIR to a writable folder, or NURTURE_EMBED_BACKEND=torch"
                ) from error
        return open_session(self.onnx_path, self.threads)

    @cached_property
    def tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        path = self.model_path / "tokenizer.json"
        if not path.exists():
            raise ConfigError(
                f"{path} is missing: the ONNX backend needs a fast tokenizer "
                "(set NURTURE_EMBED_BACKEND=torch for this model)"
            )
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.enable_truncation(max_length=self.max_tokens)
        pad_token = _pad_token(self.model_path)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad_token) or 0, pad_token=pad_token)
        return tokenizer

    @cached_property
    def dimension(self) -> int:
        size = self.session.get_outputs()[0].shape[-1]
        return size if isinstance(size, int) else _hidden_size(self.model_path)

    @cached_property
    def _input_names(self) -> set[str]:
        return {given.name for given in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            vectors[chosen] = self._run([texts[i] for i in chosen])
        return vectors

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        wanted = self._input_names
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)


def export(model_path: Path, target: Path) -> None:
    """Export the model's transformer to ONNX with PyTorch (local files only), atomically."""
    from transformers import AutoModel

    logger.info("exporting %s to ONNX (once; cached at %s)", model_path.name, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    export_module(model, target)


def export_module(model: torch.nn.Module, target: Path) -> None:
    """Export a loaded transformers encoder (ids, mask, types -> last hidden state), atomically."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor
        ) -> torch.Tensor:
            return self.model(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    partial = target.with_suffix(f".{os.getpid()}.partial")
    with warnings.catch_warnings(), torch.no_grad(), _removed_on_failure(partial):
        # The tracing exporter warns about shapes it records; the axes above stay dynamic.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(),
            (sample, sample, torch.zeros_like(sample)),
            str(partial),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    os.replace(partial, target)


def open_session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    """A CPU session for an exported model, with idle threads that do not spin."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads would otherwise spin and take the CPU from the web server.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@contextmanager
def _removed_on_failure(path: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _read_modules(model_path: Path) -> tuple[str, bool]:
    """The pooling mode and whether vectors are normalised, refusing layouts we can't run."""
    modules_file = model_path / "modules.json"
    if not modules_file.exists():
        return "mean", False  # a plain transformers folder: sentence-transformers' own default
    modules = json.loads(modules_file.read_text())
    kinds = [module["type"] for module in modules]
    unsupported = [kind for kind in kinds if kind not in (TRANSFORMER, POOLING, NORMALIZE)]
    if unsupported:
        raise ConfigError(
            f"{modules_file}: the ONNX backend runs Transformer, Pooling and Normalize modules, "
            f"not {', '.join(unsupported)} (set NURTURE_EMBED_BACKEND=torch for this model)"
        )
    pooling = "mean"
    for module in modules:
        if module["type"] == POOLING:
            config = json.loads((model_path / module["path"] / "config.json").read_text())
            # Other keys (word_embedding_dimension, include_prompt) are not modes.
            modes = [
                key.removeprefix("pooling_mode_").removesuffix("_tokens").removesuffix("_token")
                for key, on in config.items()
                if key.startswith("pooling_mode_") and on is True
            ]
            if len(modes) != 1 or modes[0] not in SUPPORTED_POOLING:
                raise ConfigError(
                    f"{model_path / module['path'] / 'config.json'}: the ONNX backend supports "
                    f"mean or CLS pooling, not {modes} (set NURTURE_EMBED_BACKEND=torch)"
                )
            pooling = modes[0]
    return pooling, NORMALIZE in kinds


def fingerprint(model_path: Path) -> str:
    """A short hash of the model folder's config and weights."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = model_path / name
        if path.exists():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def _pad_token(model_path: Path) -> str:
    config = model_path / "tokenizer_config.json"
    if config.exists():
        token = json.loads(config.read_text()).get("pad_token")
        if isinstance(token, str):
            return token
        if isinstance(token, dict) and "content" in token:
            return str(token["content"])
    return "[PAD]"


def _hidden_size(model_path: Path) -> int:
    return int(json.loads((model_path / "config.json").read_text())["hidden_size"])
