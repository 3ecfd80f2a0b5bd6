"""Nearest example questions by MiniLM embedding: the intents no phrase decides, and the task prototypes.

The example vectors are cached under `Settings.home/cache`, keyed by the examples' content and the embedding model,
so a warm process embeds only the question. Without `knowledge.embed` (or with a broken embedder) the router stays
silent and the rules alone decide.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from cachetools import LRUCache

# Below this cosine similarity the nearest example is not about the same thing; its vote would be noise.
MIN_SIMILARITY = 0.5
NEIGHBOURS = 5


@lru_cache(maxsize=1)
def embedder():
    try:
        from knowledge.embed import shared_embedder
    except ImportError:
        return None
    return shared_embedder()


# The example vectors of this process, by (tag, content key, embedder): a warm ask reads no file for them.
_IN_MEMORY: dict[tuple[str, str, int], np.ndarray] = {}


def cached_vectors(model, texts: list[str], tag: str, home: Path) -> np.ndarray:
    """Unit vectors of `texts`, from `home/cache/{tag}-{key}.npy` when that file matches them."""
    key = hashlib.sha256((getattr(model, "name", "") + "\n" + "\n".join(texts)).encode()).hexdigest()[:16]
    if (tag, key, id(model)) in _IN_MEMORY:
        return _IN_MEMORY[(tag, key, id(model))]
    vectors = _load_or_embed(model, texts, home.expanduser() / "cache" / f"{tag}-{key}.npy")
    _IN_MEMORY[(tag, key, id(model))] = vectors
    return vectors


def _load_or_embed(model, texts: list[str], cache: Path) -> np.ndarray:
    if cache.exists():
        try:
            vectors = np.load(cache)
            if vectors.shape[0] == len(texts):
                return vectors
        except (OSError, ValueError):
            pass
    vectors = np.asarray(model.embed(texts), dtype=np.float32)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{id(vectors)}.tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(cache)
    except OSError:
        pass  # the cache is an optimisation; a read-only home still reads questions
    return vectors


def closest_by_label(question: str, examples: tuple[tuple[str, str], ...], tag: str, home: Path,
                     model=None) -> dict[str, float] | None:
    """The similarity of `question` to the nearest example of each label, however far; None without an embedder."""
    sims = _similarities(question, examples, tag, home, model)
    if sims is None:
        return None
    best: dict[str, float] = {}
    for (_, label), similarity in zip(examples, sims.tolist()):
        best[label] = max(best.get(label, -1.0), similarity)
    return best


def vote_confidence(share: float, similarity: float) -> float:
    """How sure a vote is: its share of the neighbours times the nearest example's similarity, within 0.3-0.8."""
    return round(min(0.8, max(0.3, share * similarity + 0.2)), 2)


# The question's own vector, by (embedder, text): one read asks the task prototypes, the off-topic check and the
# intent router about the same text, and embeds it once.
_QUERIES: LRUCache = LRUCache(maxsize=64)
_QUERIES_LOCK = threading.Lock()


def _query_vector(model, question: str) -> np.ndarray:
    key = (id(model), question)
    with _QUERIES_LOCK:
        held = _QUERIES.get(key)
    if held is not None and held[0] is model:  # the entry holds its embedder, so its id cannot name another one
        return held[1]
    vector = model.embed([question])[0]
    with _QUERIES_LOCK:
        _QUERIES[key] = (model, vector)
    return vector


def _similarities(question: str, examples: tuple[tuple[str, str], ...], tag: str, home: Path,
                  model=None) -> np.ndarray | None:
    """Cosine similarity of `question` to each example; None without an embedder or examples."""
    model = model or embedder()
    if model is None or not examples:
        return None
    try:
        vectors = cached_vectors(model, [text for text, _ in examples], tag, home)
        return vectors @ _query_vector(model, question)
    except Exception:  # noqa: BLE001 - a broken embedder must not break reading; the rules still answer
        return None


def nearest(question: str, examples: tuple[tuple[str, str], ...], tag: str, home: Path,
            min_similarity: float = MIN_SIMILARITY, model=None,
            decisive: float | None = None) -> tuple[str, float, str, float] | None:
    """(label, share of the neighbours' vote, nearest example of that label, its similarity) for `question`
    against (text, label) `examples`; None without an embedder or an example closer than `min_similarity`.
    An example at `decisive` similarity or more (the same question in other words) decides alone."""
    sims = _similarities(question, examples, tag, home, model)
    if sims is None:
        return None
    order = sims.argsort()[::-1][:NEIGHBOURS]
    if float(sims[order[0]]) < min_similarity:
        return None
    if decisive is not None and float(sims[order[0]]) >= decisive:
        return examples[order[0]][1], 1.0, examples[order[0]][0], float(sims[order[0]])
    votes: dict[str, float] = {}
    for i in order:
        votes[examples[i][1]] = votes.get(examples[i][1], 0.0) + max(float(sims[i]), 0.0)
    label = max(votes, key=votes.get)
    best = next(i for i in order if examples[i][1] == label)
    return label, votes[label] / (sum(votes.values()) or 1.0), examples[best][0], float(sims[best])
