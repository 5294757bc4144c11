"""`nurture train-safety`: fine-tune the bundled MiniLM as a 5-way safety classifier.

LoRA adapters (the `peft` library) on the top transformer layers, plus a linear head over the
mean-pooled tokens, trained with a class-weighted cross-entropy on the train split. The layers
below the adapted ones are frozen, so their output is computed once and reused every epoch,
which keeps training to a minute or two on 2 cores. Thresholds are then chosen on dev with the
same code path the assistant uses (`SafetyClassifier`), given what the rule layers already catch.

Seeded and deterministic: torch.manual_seed, deterministic algorithms and a fixed thread count,
so the same data and seed write a byte-identical artefact.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.onnx_model import additive_mask
from assistant.safety_classifier import (
    CLASSES,
    SafetyClassifier,
    data_hash,
    load_split,
    load_tokenizer,
    padded,
)
from assistant.safety_thresholds import Gate, choose_thresholds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    """The training hyper-parameters, chosen on dev (docs/safety-triage.md)."""

    layers: int = 2  # adapted transformer layers, counted from the top
    rank: int = 8
    alpha: int = 16
    modules: tuple[str, ...] = ("query", "key", "value", "dense")
    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 1e-3
    head_learning_rate: float = 3e-3
    weight_decay: float = 0.01
    dropout: float = 0.1
    max_tokens: int = 256
    threads: int = 2


def train(
    data_dir: Path,
    model_path: str,
    model_name: str,
    gate: Callable[[str], Gate],
    *,
    seed: int = 13,
    recipe: Recipe | None = None,
) -> tuple[SafetyClassifier, dict[str, object]]:
    """Fine-tune on train; choose thresholds on dev given what the rule layers catch there and
    where triage consults the classifier (`gate`, `SafetyTriage.classifier_gate`)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    recipe = recipe or Recipe()
    started = time.perf_counter()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(recipe.threads)
    train_set = load_split(data_dir, "train")
    dev_set = load_split(data_dir, "dev")
    tokenizer = load_tokenizer(model_path, recipe.max_tokens)

    base = AutoModel.from_pretrained(
        model_path, local_files_only=True, attn_implementation="eager", add_pooling_layer=False
    )
    total_layers = base.config.num_hidden_layers
    top = list(range(total_layers - recipe.layers, total_layers))
    config = LoraConfig(
        r=recipe.rank,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=list(recipe.modules),
        layers_to_transform=top,
        layers_pattern="layer",
        bias="none",
    )
    with warnings.catch_warnings():
        # peft asks transformers about gradient checkpointing with a deprecated name.
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(base, config)
    bert = model.base_model.model
    hidden = bert.config.hidden_size
    head = torch.nn.Linear(hidden, len(CLASSES))

    # The frozen lower layers' output, once per training message.
    encoded = [tokenizer.encode(e.text).ids for e in train_set]
    frozen = _lower_states(bert, encoded, top[0], recipe.batch_size)
    logger.info("frozen layers done (%.0f s)", time.perf_counter() - started)
    labels = torch.tensor([CLASSES.index(e.label) for e in train_set])
    counts = torch.bincount(labels, minlength=len(CLASSES)).float()
    weights = counts.sum() / (len(CLASSES) * counts)  # class-balanced

    lora_params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [
            {"params": lora_params, "lr": recipe.learning_rate},
            {"params": head.parameters(), "lr": recipe.head_learning_rate},
        ],
        weight_decay=recipe.weight_decay,
    )
    steps = recipe.epochs * ((len(train_set) + recipe.batch_size - 1) // recipe.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: max(0.0, 1 - step / steps) * min(1.0, (step + 1) / (steps * 0.06))
    )
    generator = torch.Generator().manual_seed(seed)
    dropout = torch.nn.Dropout(recipe.dropout)
    model.train()
    losses = []
    for epoch in range(recipe.epochs):
        total = 0.0
        for batch in _batches(frozen, recipe.batch_size, generator):
            states, mask = _pad_states([frozen[i] for i in batch])
            for index in top:
                states = bert.encoder.layer[index](states, additive_mask(mask))
                states = states[0] if isinstance(states, tuple) else states
            logits = head(dropout(_mean_pool(states, mask)))
            loss = torch.nn.functional.cross_entropy(logits, labels[batch], weight=weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        losses.append(round(total / len(train_set), 4))
        logger.info(
            "epoch %d: loss %.4f (%.0f s)", epoch + 1, losses[-1], time.perf_counter() - started
        )
    model.eval()

    adapters = _adapters(model)
    classifier = SafetyClassifier.build(
        model_path,
        adapters,
        head.weight.detach().clone(),
        head.bias.detach().clone(),
        thresholds={},
        metadata={
            "model": model_name,
            "data_sha256": data_hash(data_dir),
            "seed": seed,
            "recipe": recipe.__dict__,
        },
    )
    dev_probs = classifier.probabilities_batch([e.text for e in dev_set])
    thresholds = choose_thresholds(dev_probs, dev_set, [gate(e.text) for e in dev_set])
    classifier = classifier.with_thresholds(thresholds)
    report = {
        "examples": {"train": len(train_set), "dev": len(dev_set)},
        "seed": seed,
        "epoch_losses": losses,
        "seconds": round(time.perf_counter() - started),
    }
    return classifier, report


def _lower_states(bert, encoded: list[list[int]], below: int, batch_size: int) -> list:
    """Each message's hidden states after the frozen layers (no padding kept)."""
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            ids = encoded[start : start + batch_size]
            input_ids, mask = map(torch.from_numpy, padded(ids))
            states = bert.embeddings(input_ids=input_ids)
            for index in range(below):
                states = bert.encoder.layer[index](states, additive_mask(mask))
                states = states[0] if isinstance(states, tuple) else states
            out += [states[row, : len(i)].clone() for row, i in enumerate(ids)]
    return out


def _batches(states: list, size: int, generator) -> list[list[int]]:
    """Shuffled batches of messages of similar length (little padding), in shuffled order."""
    import torch

    order = torch.randperm(len(states), generator=generator).tolist()
    # Sort by length within windows of 50 batches, then shuffle the batches themselves.
    window = size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: states[i].shape[0])
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def _pad_states(states: list):
    import torch

    width = max(s.shape[0] for s in states)
    padded = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for row, s in enumerate(states):
        padded[row, : s.shape[0]] = s
        mask[row, : s.shape[0]] = 1
    return padded, mask


def _mean_pool(states, mask):
    weights = mask.unsqueeze(-1).float()
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def _adapters(model) -> dict[str, tuple[object, object, float]]:
    """Per adapted linear layer (named as in the plain BertModel): A, B and the LoRA scaling."""
    from peft.tuners.lora import LoraLayer

    adapters = {}
    for name, module in model.base_model.model.named_modules():
        if isinstance(module, LoraLayer) and "default" in module.lora_A:
            adapters[name] = (
                module.lora_A["default"].weight.detach().clone(),
                module.lora_B["default"].weight.detach().clone(),
                float(module.scaling["default"]),
            )
    return adapters
