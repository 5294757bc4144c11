"""The ONNX Runtime backend gives the PyTorch model's vectors, exports once, and refuses model
layouts it cannot run; the batcher hands each concurrent caller its own vector."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import BatchingEmbedder, SentenceTransformerEmbedder, build_embedder
from assistant.errors import ConfigError
from assistant.onnx_model import OnnxModel

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return build_embedder(Settings(embed_backend="torch"))


def corpus_texts() -> list[str]:
    paragraphs = []
    for path in sorted((REPO / "corpus").rglob("*.md")):
        paragraphs.extend(p for p in path.read_text().split("\n\n") if p.strip())
    return paragraphs


def test_onnx_vectors_match_pytorch(
    embedder: SentenceTransformerEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    assert embedder.backend == "onnx"
    texts = corpus_texts()[::20]  # a couple of hundred paragraphs of every kind and length
    # One text far past the 256-token window: both backends must truncate it the same way.
    texts.append(" ".join(corpus_texts()[:40]))
    texts += ["she screams after every contact visit", "bubs wont settle", "?"]
    onnx = embedder.embed_documents(texts)
    torch = torch_embedder.embed_documents(texts)
    assert onnx.shape == torch.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert float((onnx * torch).sum(axis=1).min()) > 0.9999
    # A batch pads short texts; alone they are not padded. Neither may change a vector.
    alone = np.stack([embedder.embed_query(text) for text in texts[-3:]])
    assert float((alone * onnx[-3:]).sum(axis=1).min()) > 0.9999


def test_export_is_made_once_and_shared(tmp_path: Path) -> None:
    settings = Settings(model_cache_dir=tmp_path)
    first = build_embedder(settings)
    first.embed_query("warm up")
    [exported] = tmp_path.glob("*.onnx")
    stamp = exported.stat().st_mtime_ns
    second = build_embedder(settings)
    assert np.allclose(second.embed_query("contact"), first.embed_query("contact"))
    assert exported.stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob("*.partial"))


def model_copy(tmp_path: Path) -> Path:
    source = Path(Settings().resolved_model_path())
    target = tmp_path / "model"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors"))
    for weights in source.glob("*.safetensors"):
        (target / weights.name).symlink_to(weights)
    return target


def test_unsupported_modules_are_refused_with_the_way_out(tmp_path: Path) -> None:
    model = model_copy(tmp_path)
    modules = json.loads((model / "modules.json").read_text())
    modules.append(
        {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (model / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="modules.json.*Dense.*NURTURE_EMBED_BACKEND=torch"):
        OnnxModel(model, tmp_path / "cache", 256)


def test_unsupported_pooling_is_refused(tmp_path: Path) -> None:
    model = model_copy(tmp_path)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="1_Pooling/config.json.*max"):
        OnnxModel(model, tmp_path / "cache", 256)


def test_pooling_options_that_are_not_modes_are_accepted(tmp_path: Path) -> None:
    model = model_copy(tmp_path)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(include_prompt=True)  # written by newer sentence-transformers
    pooling.write_text(json.dumps(config))
    assert OnnxModel(model, tmp_path / "cache", 256).pooling == "mean"


def test_cls_pooling_is_honoured(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    model = model_copy(tmp_path)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    cls = SentenceTransformerEmbedder(
        str(model), "cls-variant", backend="onnx", cache_dir=tmp_path / "cache"
    )
    text = "how do I help a baby after a move"
    assert cls._onnx is not None and cls._onnx.pooling == "cls"
    assert float(cls.embed_query(text) @ embedder.embed_query(text)) < 0.99


def test_batcher_returns_each_caller_its_own_vector(embedder: SentenceTransformerEmbedder) -> None:
    texts = [f"question number {n} about {word}" for n, word in enumerate("abcdefghijkl")]
    expected = embedder.embed_documents(texts)
    batcher = BatchingEmbedder(embedder)
    results: dict[int, np.ndarray] = {}

    def call(index: int) -> None:
        results[index] = batcher.embed_query(texts[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = np.stack([results[i] for i in range(len(texts))])
    assert float((got * expected).sum(axis=1).min()) > 0.9999


def test_an_unwritable_cache_says_which_setting_to_change(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model = build_embedder(Settings(model_cache_dir=blocker / "cache"))
    with pytest.raises(ConfigError, match="NURTURE_MODEL_CACHE_DIR"):
        model.embed_query("anything")
