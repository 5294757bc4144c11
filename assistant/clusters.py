"""Questions grouped by meaning: greedy threshold ("leader") clustering of normalised vectors.

Each vector joins the nearest cluster whose centre is at least `similarity` (cosine) away,
else starts a new cluster; a cluster's centre is the normalised mean of its members. One pass,
blocked matrix products, no n x n matrix: 10,000 questions cluster in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Cluster", "cluster_vectors"]

_BLOCK = 256  # vectors compared with the centres per matrix product


@dataclass(frozen=True)
class Cluster:
    members: tuple[int, ...]  # indexes into the input, nearest the centre first
    centre: np.ndarray


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def cluster_vectors(
    vectors: np.ndarray,
    similarity: float,
    progress: Callable[[int], None] | None = None,
) -> list[Cluster]:
    """Clusters of `vectors` (n x d), largest first. `progress(done)` is called per block."""
    if len(vectors) == 0:
        return []
    unit = _normalised(np.asarray(vectors, dtype=np.float32))
    dim = unit.shape[1]
    sums = np.zeros((max(16, len(unit) // 8), dim), dtype=np.float32)
    centres = np.zeros_like(sums)
    members: list[list[int]] = []
    for start in range(0, len(unit), _BLOCK):
        block = unit[start : start + _BLOCK]
        # Similarities to the centres known at the start of the block; clusters started inside
        # the block are checked one by one below (few: most questions join an existing one).
        known = len(members)
        scores = block @ centres[:known].T if known else np.zeros((len(block), 0))
        for offset, vector in enumerate(block):
            index = start + offset
            best, best_score = -1, similarity
            if known:
                candidate = int(np.argmax(scores[offset]))
                if scores[offset, candidate] >= best_score:
                    best, best_score = candidate, float(scores[offset, candidate])
            if len(members) > known:
                fresh = centres[known : len(members)] @ vector
                candidate = int(np.argmax(fresh))
                if fresh[candidate] >= best_score:
                    best = known + candidate
            if best < 0:
                if len(members) == len(sums):
                    sums = np.vstack([sums, np.zeros_like(sums)])
                    centres = np.vstack([centres, np.zeros_like(centres)])
                best = len(members)
                members.append([])
            members[best].append(index)
            sums[best] += vector
            centres[best] = sums[best] / max(float(np.linalg.norm(sums[best])), 1e-12)
        if progress is not None:
            progress(min(start + _BLOCK, len(unit)))
    clusters = []
    for number, indexes in enumerate(members):
        centre = centres[number].copy()
        order = np.argsort(-(unit[indexes] @ centre), kind="stable")
        clusters.append(Cluster(tuple(indexes[i] for i in order), centre))
    clusters.sort(key=lambda cluster: (-len(cluster.members), cluster.members[0]))
    return clusters
