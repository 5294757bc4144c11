"""The trainers' workspace over 10,000 stored unanswered questions: clustering alone, the whole
"Unanswered questions" table once the questions are embedded (target <= 5 s on 2 cores), and the
first, cold load that embeds them all.

The questions are the gold set's and the library's own phrasings, each asked in several ways
(prefixes and endings carers use), stored declined in a temporary SQLite file as the API stores
them. The index is the small fixture corpus: finding each cluster's closest section is one
matrix product whatever the library's size.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

from api.storage import Storage
from api.workspace import Workspace
from assistant.clusters import cluster_vectors
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.models import Answer, SafetyInfo
from assistant.service import Assistant
from assistant.store import open_store
from ingest.pipeline import Pipeline

REPO = Path(__file__).parent.parent
QUESTIONS = 10_000
PREFIXES = [
    "",
    "please help ",
    "quick question ",
    "sorry if this is silly but ",
    "hi, ",
    "urgent: ",
]
ENDINGS = ["", "?", " thanks", " any advice", " x", " (foster carer, first placement)"]


def questions(count: int) -> list[str]:
    gold = yaml.safe_load((REPO / "corpus" / "eval" / "questions.yaml").read_text())
    base = [item["question"].lower().rstrip("?") for items in gold.values() for item in items]
    variants = (
        f"{prefix}{question}{ending}"
        for question, prefix, ending in itertools.product(base, PREFIXES, ENDINGS)
    )
    return list(itertools.islice(variants, count))


def seed(path: Path, texts: list[str]) -> Storage:
    now = datetime.now(UTC)
    clock = [now - timedelta(days=20)]
    storage = Storage(path, clock=lambda: clock[0])
    declined = Answer(
        answer="", citations=[], safety=SafetyInfo(), abstained=True, abstain_reason="no_evidence"
    )
    for text in texts:
        storage.save_answer(None, text, declined)
        clock[0] += timedelta(seconds=150)
    storage.clock = lambda: now
    return storage


def gold_purity(embedder: Embedder, similarity: float) -> tuple[float, int, int]:
    """Clusters of the gold in-scope questions: the share in a cluster whose most common
    expected document is theirs, the number of clusters, and of questions."""
    gold = yaml.safe_load((REPO / "corpus" / "eval" / "questions.yaml").read_text())
    items = [(item["question"], item["docs"][0]) for item in gold["in_scope"]]
    vectors = embedder.embed_documents([question for question, _ in items])
    clusters = cluster_vectors(vectors, similarity)
    pure = sum(
        Counter(items[i][1] for i in cluster.members).most_common(1)[0][1] for cluster in clusters
    )
    return pure / len(items), len(clusters), len(items)


def run(settings: Settings, embedder: Embedder) -> dict:
    purity, gold_clusters, gold_questions = gold_purity(embedder, settings.cluster_similarity)
    texts = questions(QUESTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        indexed = Settings(
            **{
                **settings.model_dump(),
                "corpus_dir": REPO / "tests" / "data" / "corpus",
                "data_dir": root / "data",
                "chroma_url": "",
            }
        )
        Pipeline(indexed, open_store(indexed), embedder).run()
        assistant = Assistant.from_settings(indexed, embedder=embedder)
        storage = seed(root / "nurture.db", texts)
        workspace = Workspace(storage, assistant, indexed, clock=storage.clock)

        started = time.perf_counter()
        cold = workspace.unanswered(30)
        cold_s = time.perf_counter() - started

        started = time.perf_counter()
        warm = workspace.unanswered(30)
        warm_s = time.perf_counter() - started

        started = time.perf_counter()
        restarted = Workspace(storage, assistant, indexed, clock=storage.clock).unanswered(30)
        restart_s = time.perf_counter() - started
        assert restarted.rows == warm.rows

        vectors = workspace.embed(texts)
        started = time.perf_counter()
        clusters = cluster_vectors(vectors, indexed.cluster_similarity)
        cluster_s = time.perf_counter() - started
        sizes = np.array([len(c.members) for c in clusters])
        storage.close()
    assert cold.extra["text_kept"] == warm.extra["text_kept"] == len(texts)
    return {
        "gold_purity": purity,
        "gold_clusters": gold_clusters,
        "gold_questions": gold_questions,
        "questions": len(texts),
        "clusters": len(clusters),
        "largest_cluster": int(sizes.max()),
        "singleton_clusters": int((sizes == 1).sum()),
        "cluster_only_s": cluster_s,
        "unanswered_table_warm_s": warm_s,
        "unanswered_table_after_restart_s": restart_s,
        "unanswered_table_cold_s": cold_s,
    }
