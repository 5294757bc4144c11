"""A local sentence-transformers model exported once to ONNX and run with ONNX Runtime.

On this kind of CPU ONNX Runtime embeds a short question about three times faster than PyTorch,
and its vectors match the PyTorch model's (cosine > 0.9999), so an index built by either serves
queries from the other. The export reads only the local model folder and is cached by content."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections import OrderedDict
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
EXPORT_VERSION = "2"
TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
SUPPORTED_POOLING = ("mean", "cls")
# Queries whose per-layer token states are kept for the safety classifier: it reads them just
# after the embedding, so a few cover every request in flight.
STATES_KEPT = 8


class OnnxModel:
    """Transformer -> mean or CLS pooling -> optional normalisation, as the model folder says."""

    def __init__(self, model_path: Path, cache_dir: Path, max_tokens: int, threads: int = 0):
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.max_tokens = max_tokens
        self.threads = threads
        self.pooling, self.normalize = _read_modules(model_path)
        self._states: OrderedDict[str, list[np.ndarray]] = OrderedDict()
        self._states_lock = threading.Lock()

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

    @cached_property
    def _output_names(self) -> list[str]:
        return [given.name for given in self.session.get_outputs()]

    def encode(self, texts: list[str], batch_size: int, *, keep_states: bool = False) -> np.ndarray:
        """Vectors for `texts`; with `keep_states`, each text's per-layer token states are kept
        (the last `STATES_KEPT` texts) for `token_states`."""
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            vectors[chosen] = self._run([texts[i] for i in chosen], keep_states)
        return vectors

    def token_states(self, text: str, layer: int) -> np.ndarray | None:
        """The input to transformer layer `layer` for a recently kept text, (tokens, hidden)."""
        with self._states_lock:
            kept = self._states.get(text)
        return kept[layer] if kept is not None and 0 <= layer < len(kept) else None

    def _run(self, texts: list[str], keep_states: bool = False) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        wanted = self._input_names
        names = self._output_names if keep_states else self._output_names[:1]
        hidden, *layers = self.session.run(names, {k: v for k, v in feeds.items() if k in wanted})
        if keep_states and layers:
            self._keep(texts, layers, mask.sum(axis=1))
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)

    def _keep(self, texts: list[str], layers: list[np.ndarray], lengths: np.ndarray) -> None:
        with self._states_lock:
            for row, text in enumerate(texts):
                self._states[text] = [layer[row, : lengths[row]].copy() for layer in layers]
                self._states.move_to_end(text)
            while len(self._states) > STATES_KEPT:
                self._states.popitem(last=False)


def export(model_path: Path, target: Path) -> None:
    """Export the model's transformer to ONNX with PyTorch (local files only), atomically."""
    from transformers import AutoModel

    logger.info("exporting %s to ONNX (once; cached at %s)", model_path.name, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    export_module(model, target, every_layer=True)


def export_module(model: torch.nn.Module, target: Path, *, every_layer: bool = False) -> None:
    """Export a loaded transformers encoder (ids, mask, types -> last hidden state), atomically.

    With `every_layer`, the graph also returns each layer's input, `states_0` (the embeddings)
    to `states_{n-1}`: ONNX Runtime computes them anyway, and the safety classifier, whose
    lower layers are the embedder's own, starts from them instead of from the words."""
    import torch

    layers = model.config.num_hidden_layers if every_layer else 0

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor
        ) -> tuple[torch.Tensor, ...]:
            out = self.model(
                input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True
            )
            return (out.last_hidden_state, *out.hidden_states[:layers])

    sample = torch.ones((2, 8), dtype=torch.int64)
    states = [f"states_{i}" for i in range(layers)]
    _export(
        Encoder(),
        (sample, sample, torch.zeros_like(sample)),
        ["input_ids", "attention_mask", "token_type_ids"],
        ["last_hidden_state", *states],
        target,
    )


def export_layers(layers: torch.nn.Module, hidden_size: int, target: Path) -> None:
    """Export encoder layers alone (states, mask -> last hidden state), atomically."""
    import torch

    class Layers(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = layers

        def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            additive = additive_mask(mask)
            for layer in self.layers:
                states = layer(states, additive)
                states = states[0] if isinstance(states, tuple) else states
            return states

    sample = torch.ones((2, 8), dtype=torch.int64)
    _export(
        Layers(),
        (torch.zeros((2, 8, hidden_size)), sample),
        ["states", "attention_mask"],
        ["last_hidden_state"],
        target,
    )


def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    """An attention mask as attention adds it: 0 to keep a token, a large negative to drop it."""
    import torch

    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def _export(
    module: torch.nn.Module,
    sample: tuple[torch.Tensor, ...],
    inputs: list[str],
    outputs: list[str],
    target: Path,
) -> None:
    import torch

    axes = {name: {0: "batch", 1: "tokens"} for name in [*inputs, *outputs]}
    partial = target.with_suffix(f".{os.getpid()}.partial")
    with warnings.catch_warnings(), torch.no_grad(), _removed_on_failure(partial):
        # The tracing exporter warns about shapes it records; the axes above stay dynamic.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            sample,
            str(partial),
            input_names=inputs,
            output_names=outputs,
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
