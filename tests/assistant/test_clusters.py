"""Clustering questions by meaning with the bundled model."""

from __future__ import annotations

import numpy as np

from assistant.clusters import cluster_vectors
from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder

SLEEP = [
    "can the baby sleep in our bed",
    "is co-sleeping with my foster baby allowed",
    "baby wont sleep unless shes in bed with me",
]
FAMILY_TIME = [
    "how do i get the baby ready for contact with her mum",
    "baby comes back from family time upset what do i do",
    "preparing a baby for seeing birth parents",
]
PASSPORT = ["how do i get a passport for my foster child", "passport for a looked after child"]


def test_paraphrases_share_a_cluster_and_topics_do_not(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = SLEEP + FAMILY_TIME + PASSPORT
    clusters = cluster_vectors(embedder.embed_documents(texts), Settings().cluster_similarity)
    groups = sorted(sorted(texts[i] for i in cluster.members) for cluster in clusters)
    assert sorted(PASSPORT) in groups
    assert not any(set(group) & set(SLEEP) and set(group) & set(FAMILY_TIME) for group in groups)
    assert not any(set(group) & set(PASSPORT) and set(group) - set(PASSPORT) for group in groups)


def test_threshold_largest_first_and_every_vector_once() -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(3, 16))
    vectors = np.vstack(
        [
            centre + rng.normal(scale=0.05, size=(n, 16))
            for centre, n in zip(centres, (5, 9, 2), strict=True)
        ]
    )
    clusters = cluster_vectors(vectors, 0.9)
    assert [len(c.members) for c in clusters] == [9, 5, 2]
    assert sorted(i for c in clusters for i in c.members) == list(range(16))
    assert len(cluster_vectors(vectors, 1.01)) == 16  # nothing is that similar
    assert len(cluster_vectors(vectors, -1.0)) == 1
    assert cluster_vectors(np.zeros((0, 16)), 0.5) == []
    progress: list[int] = []
    cluster_vectors(np.tile(vectors, (40, 1)), 0.9, progress.append)
    assert progress[-1] == 640 and progress == sorted(progress)
