"""Clustering of speaker embeddings with the number of speakers estimated.

Why spectral clustering with a pruned affinity: GE2E window embeddings of two voices on a telephone line
sit close together in absolute cosine terms (same speaker ~0.75, different ~0.68 on the pyannote sample),
so any fixed similarity threshold is fragile. Keeping only each window's nearest neighbours makes the
graph reflect relative similarity, and the eigengap of its Laplacian then estimates how many voices there
are (NME-SC, Park et al. 2019, simplified). A final centroid check merges clusters whose centroids are
almost the same voice, which is what guards against one voice being split in two when few windows exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2

# Two clusters whose windows are on average more similar than this (mean cross-cluster cosine, i.e. average
# linkage) are one voice. Measured on the shared data with the GE2E encoder: splitting one speaker's speech
# in two leaves >= 0.737 between the halves (15 single-speaker clips, en/ko); two different people give
# 0.68 (telephone, pyannote sample), 0.62 (AMI) and 0.44-0.53 (mock interviews). Centroid similarity does
# not separate these cases on short material (0.81-0.93 for one voice vs 0.88 for two).
MERGE_SIMILARITY = 0.72


@dataclass(frozen=True)
class Clustering:
    """Cluster index per row (0..k-1, numbered by first appearance) and the estimated k."""

    labels: np.ndarray
    k: int


def _affinity(x: np.ndarray) -> np.ndarray:
    sim = np.clip(x @ x.T, -1.0, 1.0)
    return (sim + 1.0) / 2.0


def _prune(aff: np.ndarray, keep: int) -> np.ndarray:
    n = aff.shape[0]
    pruned = np.zeros_like(aff)
    order = np.argsort(-aff, axis=1)[:, :keep]
    rows = np.repeat(np.arange(n), keep)
    pruned[rows, order.ravel()] = aff[rows, order.ravel()]
    return (pruned + pruned.T) / 2.0


def _laplacian_spectrum(aff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = aff.copy()
    np.fill_diagonal(a, 0.0)
    deg = a.sum(axis=1)
    inv = 1.0 / np.sqrt(np.maximum(deg, 1e-10))
    lap = np.eye(a.shape[0]) - (inv[:, None] * a * inv[None, :])
    vals, vecs = np.linalg.eigh(lap)
    return vals, vecs


def _estimate(x: np.ndarray, k_max: int) -> tuple[int, np.ndarray]:
    """Pick the neighbour count that gives the clearest eigengap; return (k, eigenvectors)."""
    n = x.shape[0]
    aff = _affinity(x)
    best: tuple[float, int, np.ndarray] | None = None
    candidates = sorted({max(2, int(round(n * p))) for p in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)})
    for keep in candidates:
        if keep >= n:
            continue
        vals, vecs = _laplacian_spectrum(_prune(aff, keep))
        upto = min(k_max, n - 1)
        gaps = np.diff(vals[: upto + 1])
        k = int(np.argmax(gaps)) + 1
        gap = float(gaps[k - 1])
        ratio = (keep / n) / max(gap, 1e-6)
        if best is None or ratio < best[0]:
            best = (ratio, k, vecs)
    if best is None:
        return 1, np.zeros((n, 1))
    return best[1], best[2]


def _renumber(labels: np.ndarray) -> np.ndarray:
    mapping: dict[int, int] = {}
    out = np.empty_like(labels)
    for i, lab in enumerate(labels):
        out[i] = mapping.setdefault(int(lab), len(mapping))
    return out


def merge_close_clusters(x: np.ndarray, labels: np.ndarray, threshold: float = MERGE_SIMILARITY) -> np.ndarray:
    """Merge clusters whose average cross-cluster window similarity exceeds ``threshold`` (closest first)."""
    labels = labels.copy()
    full = x @ x.T
    while True:
        ids = np.unique(labels)
        if len(ids) < 2:
            return _renumber(labels)
        masks = [labels == i for i in ids]
        sim = np.full((len(ids), len(ids)), -1.0)
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                sim[a, b] = sim[b, a] = float(full[np.ix_(masks[a], masks[b])].mean())
        a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[a, b] < threshold:
            return _renumber(labels)
        labels[labels == ids[b]] = ids[a]


def spectral_cluster(
    x: np.ndarray, *, num_speakers: int | None = None, k_max: int = 6, merge_threshold: float = MERGE_SIMILARITY
) -> Clustering:
    """Cluster L2-normalised rows of ``x``; k from the eigengap (1..k_max) unless ``num_speakers`` is given."""
    n = x.shape[0]
    if n == 0:
        return Clustering(np.zeros(0, dtype=int), 0)
    if n < 3:
        labels = np.zeros(n, dtype=int)
        if n == 2 and float(x[0] @ x[1]) < merge_threshold and num_speakers != 1:
            labels[1] = 1
        return Clustering(labels, int(labels.max()) + 1)
    k_est, vecs = _estimate(x, k_max)
    k = num_speakers if num_speakers else k_est
    k = max(1, min(k, n))
    if not num_speakers and k_est == 1:
        # The eigengap cannot tell one voice from two well-separated ones; try two and let the centroid
        # check decide.
        k = 2
        _, vecs = _laplacian_spectrum(_prune(_affinity(x), max(2, n // 4)))
    if k == 1:
        return Clustering(np.zeros(n, dtype=int), 1)
    emb = vecs[:, :k]
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    rng = np.random.default_rng(0)
    best_labels, best_inertia = None, np.inf
    for _ in range(5):
        cent, labels = kmeans2(emb, k, minit="++", seed=rng)
        inertia = float(((emb - cent[labels]) ** 2).sum())
        if inertia < best_inertia:
            best_labels, best_inertia = labels, inertia
    assert best_labels is not None
    labels = _renumber(best_labels)
    if not num_speakers:
        labels = merge_close_clusters(x, labels, merge_threshold)
    return Clustering(labels, int(labels.max()) + 1)
