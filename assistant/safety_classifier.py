"""The learned safety layer: the bundled MiniLM fine-tuned as a 5-way classifier.

Trained by `nurture train-safety` (`assistant/safety_training.py`) from the labelled messages in
`safety_rules/data/` (train and dev splits; the blind split is never read here). The artefact,
`classifier.safetensors`, is small: LoRA adapters for the top transformer layers and a linear
head, with, in its metadata, one decision threshold per category (chosen on dev, cost-sensitive:
a missed emergency costs far more than a false alarm), the hash of the data it was trained on,
the base model's name, the seed and the training recipe. Loading merges the adapters into the
base model's weights, so a message costs one forward pass of the plain model on its own words.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.models import SAFETY_PRIORITY, SafetyCategory

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

Split = Literal["train", "dev", "blind"]
SPLITS: tuple[Split, ...] = ("train", "dev", "blind")
CLASSES: tuple[SafetyCategory, ...] = (*SAFETY_PRIORITY, "none")
FORMAT = "nurture-safety-lora/1"
# All metadata sits under one key, as sorted JSON: safetensors writes several keys in an order
# that changes from run to run, and a rerun must write the same bytes.
METADATA_KEY = "nurture"
# The embedder's per-layer token states for a text it has just embedded (`SharesTokenStates`).
TokenStates = Callable[[str, int], np.ndarray | None]


class Example(BaseModel):
    """One labelled message; `source` records where its wording or red flag came from."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    label: SafetyCategory
    source: str = Field(min_length=1)
    hard_negative: bool = False
    concept: str | None = None


def load_examples(path: Path) -> list[Example]:
    """Read a JSON-lines split; errors name the file and line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(Example.model_validate_json(line))
        except ValidationError as error:
            problem = error.errors()[0]
            field = ".".join(str(p) for p in problem["loc"]) or "line"
            raise ValueError(f"{path}:{number}: {field}: {problem['msg']}") from None
    return examples


def split_files(data_dir: Path, split: str) -> list[Path]:
    """A split's files: `train.jsonl`, or, for a split too big for one reviewable file, its
    parts `train-1.jsonl`, `train-2.jsonl`, ... read in number order (each under 1 MiB)."""
    whole = data_dir / f"{split}.jsonl"
    parts: list[tuple[int, Path]] = []
    for path in data_dir.glob(f"{split}-*.jsonl"):
        number = path.stem.removeprefix(f"{split}-")
        if not number.isdigit():
            raise ValueError(f"{path}: a part of the {split} split is named {split}-<number>.jsonl")
        parts.append((int(number), path))
    if whole.exists() and parts:
        raise ValueError(
            f"{data_dir} has both {whole.name} and {split}-<number>.jsonl parts: keep the {split} "
            "split in one or the other"
        )
    return [path for _, path in sorted(parts)] or [whole]


def load_split(data_dir: Path, split: str) -> list[Example]:
    """Every example of a split, in file order; errors name the file and line."""
    return [e for path in split_files(data_dir, split) for e in load_examples(path)]


def data_hash(data_dir: Path) -> str:
    """Hash of the train and dev splits: the artefact must have been trained on exactly these.
    A split's parts hash as the one file they were cut from."""
    digest = hashlib.sha256()
    for split in ("train", "dev"):
        digest.update(split.encode())
        for path in split_files(data_dir, split):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_tokenizer(model_path: str, max_tokens: int) -> Tokenizer:
    """The model's own tokenizer, truncating at `max_tokens` and never padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


def read_metadata(path: Path) -> dict[str, Any]:
    """The artefact's metadata (model, data_sha256, seed, thresholds, ...), without the model."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        raw = (handle.metadata() or {}).get(METADATA_KEY)
    metadata = json.loads(raw) if raw else {}
    if metadata.pop("format", None) != FORMAT:
        raise ValueError(
            f"{path} is not a safety classifier in format {FORMAT}: run 'nurture train-safety'"
        )
    return metadata


def padded(ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """A batch of token ids right-padded with 0 to the longest, and its attention mask."""
    width = max(len(row) for row in ids)
    input_ids = np.array([row + [0] * (width - len(row)) for row in ids], dtype=np.int64)
    lengths = np.array([len(row) for row in ids])
    return input_ids, (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)


@dataclass(frozen=True)
class SafetyClassifier:
    """The fine-tuned model (adapters merged), its head and its thresholds."""

    model: Any  # a transformers BertModel, adapters merged, in eval mode
    tokenizer: Any
    adapters: dict[str, tuple[Any, Any, float]]  # name -> (A, B, scaling), as trained
    head_weight: Any  # (classes, hidden)
    head_bias: Any  # (classes,)
    thresholds: dict[SafetyCategory, float]
    metadata: dict[str, Any] = field(default_factory=dict)
    session: Any = None  # an ONNX Runtime session of the merged model, when exported
    tail: Any = None  # an ONNX Runtime session of the adapted layers alone, when exported
    # The embedder's token states for a query it has just embedded (`SharesTokenStates`):
    # below the adapted layers the two models are one, so the tail can start from them.
    trunk: TokenStates | None = None

    @property
    def model_name(self) -> str:
        return str(self.metadata.get("model", ""))

    @property
    def data_sha256(self) -> str:
        return str(self.metadata.get("data_sha256", ""))

    @cached_property
    def first_adapted(self) -> int:
        """The lowest transformer layer with adapters: every layer below is the base model's."""
        found = [re.search(r"\.layer\.(\d+)\.", name) for name in self.adapters]
        return min(int(match.group(1)) for match in found if match) if found else 0

    @classmethod
    def build(
        cls,
        model_path: str,
        adapters: dict[str, tuple[Any, Any, float]],
        head_weight: torch.Tensor,
        head_bias: torch.Tensor,
        *,
        thresholds: dict[SafetyCategory, float],
        metadata: dict[str, Any],
    ) -> SafetyClassifier:
        """The base model from `model_path` with these adapters merged into its weights."""
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained(
            model_path, local_files_only=True, add_pooling_layer=False
        )
        modules = dict(model.named_modules())
        with torch.no_grad():
            for name, (a, b, scaling) in adapters.items():
                if name not in modules:
                    raise ValueError(
                        f"the safety classifier adapts {name!r}, which {model_path} does not "
                        "have: run 'nurture train-safety' for this model"
                    )
                modules[name].weight += (b @ a) * scaling
        model.eval()
        recipe = metadata.get("recipe", {})
        tokenizer = load_tokenizer(model_path, int(recipe.get("max_tokens", 256)))
        return cls(model, tokenizer, adapters, head_weight, head_bias, thresholds, metadata)

    @classmethod
    def load(
        cls, path: Path, model_path: str, *, onnx_cache: Path | None = None, threads: int = 1
    ) -> SafetyClassifier:
        """The artefact at `path` over the base model at `model_path`. With `onnx_cache`, the
        merged model is exported there once (keyed by both files' contents) and run with ONNX
        Runtime, several times faster per message than PyTorch on a CPU."""
        from safetensors.torch import load_file

        metadata = read_metadata(path)
        tensors = load_file(str(path))
        scaling = float(metadata.pop("lora_scaling"))
        metadata.pop("classes", None)
        names = sorted({key.rsplit(".", 1)[0] for key in tensors if key.endswith(".lora_A")})
        adapters = {n: (tensors[n + ".lora_A"], tensors[n + ".lora_B"], scaling) for n in names}
        thresholds = metadata.pop("thresholds")
        classifier = cls.build(
            model_path,
            adapters,
            tensors["head.weight"],
            tensors["head.bias"],
            thresholds=thresholds,
            metadata=metadata,
        )
        if onnx_cache is None:
            return classifier
        return classifier.with_onnx(onnx_cache, path, model_path, threads)

    def with_onnx(
        self, cache_dir: Path, artefact: Path, model_path: str, threads: int
    ) -> SafetyClassifier:
        from filelock import FileLock

        from assistant.onnx_model import export_layers, export_module, fingerprint, open_session

        digest = hashlib.sha256(artefact.read_bytes())
        digest.update(fingerprint(Path(model_path)).encode())
        name = f"safety-classifier-{digest.hexdigest()[:16]}"
        whole, tail = cache_dir / f"{name}.onnx", cache_dir / f"{name}-tail.onnx"
        if not (whole.exists() and tail.exists()):
            cache_dir.mkdir(parents=True, exist_ok=True)
            with FileLock(str(whole) + ".lock"):
                if not whole.exists():
                    logger.info("exporting the safety classifier to ONNX (once; %s)", whole)
                    export_module(self.model, whole)
                if not tail.exists():
                    layers = self.model.encoder.layer[self.first_adapted :]
                    export_layers(layers, self.model.config.hidden_size, tail)
        return replace(self, session=open_session(whole, threads), tail=open_session(tail, threads))

    def with_trunk(self, trunk: TokenStates) -> SafetyClassifier:
        return replace(self, trunk=trunk)

    def save(self, path: Path) -> None:
        """Adapters and head as safetensors; thresholds and provenance in its metadata."""
        from safetensors.torch import save_file

        scalings = {scaling for _, _, scaling in self.adapters.values()}
        if len(scalings) != 1:
            raise ValueError("every adapter must share one LoRA scaling")
        tensors = {"head.weight": self.head_weight, "head.bias": self.head_bias}
        for name, (a, b, _) in sorted(self.adapters.items()):
            tensors[name + ".lora_A"] = a.contiguous()
            tensors[name + ".lora_B"] = b.contiguous()
        metadata = {
            **self.metadata,
            "format": FORMAT,
            "classes": list(CLASSES),
            "thresholds": {k: round(v, 4) for k, v in self.thresholds.items()},
            "lora_scaling": scalings.pop(),
        }
        metadata = {METADATA_KEY: json.dumps(metadata, sort_keys=True)}
        save_file(tensors, str(path), metadata=metadata)

    def with_thresholds(self, thresholds: dict[SafetyCategory, float]) -> SafetyClassifier:
        return replace(self, thresholds=thresholds)

    def probabilities_batch(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """(messages, classes) probabilities, in CLASSES order."""
        import torch

        out = []
        encoded = [self.tokenizer.encode(text).ids for text in texts]
        if self.session is not None:
            return self._onnx_probabilities(texts, encoded, batch_size)
        with torch.inference_mode():
            for start in range(0, len(encoded), batch_size):
                input_ids, mask = map(torch.from_numpy, padded(encoded[start : start + batch_size]))
                states = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).float()
                pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                logits = pooled @ self.head_weight.T + self.head_bias
                out.append(torch.softmax(logits, dim=-1).numpy())
        if not out:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def _onnx_probabilities(
        self, texts: list[str], encoded: list[list[int]], batch_size: int
    ) -> np.ndarray:
        out = [np.zeros((0, len(CLASSES)), dtype=np.float32)]
        for start in range(0, len(encoded), batch_size):
            input_ids, mask = padded(encoded[start : start + batch_size])
            states = self._trunk_states(texts, encoded, start, batch_size, mask)
            if states is not None:
                feeds = {"states": states, "attention_mask": mask}
                out.append(self._head(self.tail.run(None, feeds)[0], mask))
                continue
            feeds = {
                "input_ids": input_ids,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(input_ids),
            }
            wanted = {given.name for given in self.session.get_inputs()}
            states = self.session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
            out.append(self._head(states, mask))
        return np.concatenate(out)

    def _trunk_states(
        self,
        texts: list[str],
        encoded: list[list[int]],
        start: int,
        batch_size: int,
        mask: np.ndarray,
    ) -> np.ndarray | None:
        """The batch's states below the adapted layers, from the embedder, if it has each one
        for exactly these tokens; else None (the whole model runs)."""
        texts = texts[start : start + batch_size]
        if self.tail is None or self.trunk is None or not texts:
            return None
        kept = [self.trunk(text, self.first_adapted) for text in texts]
        rows = encoded[start : start + batch_size]
        if any(k is None or len(k) != len(ids) for k, ids in zip(kept, rows, strict=True)):
            return None
        states = np.zeros((*mask.shape, kept[0].shape[1]), dtype=np.float32)
        for row, k in enumerate(kept):
            states[row, : len(k)] = k
        return states

    def _head(self, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled token states through the linear head, as probabilities."""
        weights = mask[..., None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        logits = pooled @ self.head_weight.numpy().T + self.head_bias.numpy()
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def probabilities(self, text: str) -> dict[SafetyCategory, float]:
        probs = self.probabilities_batch([text])[0]
        return {label: float(p) for label, p in zip(CLASSES, probs, strict=True)}

    def decide(self, text: str) -> tuple[SafetyCategory, float] | None:
        """Of the categories whose probability reaches their threshold, the likeliest.

        Thresholds may sit below 0.5 for recall, so "none" can be likelier and still lose."""
        return decide(self.probabilities(text), self.thresholds)


def decide(
    probs: dict[SafetyCategory, float], thresholds: dict[SafetyCategory, float]
) -> tuple[SafetyCategory, float] | None:
    reached = [c for c in SAFETY_PRIORITY if probs.get(c, 0.0) >= thresholds.get(c, 1.0)]
    if not reached:
        return None
    best = max(reached, key=lambda c: probs[c])
    return best, probs[best]
