"""The numpy MiniLM forward: shapes and invariants, and agreement with sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

SENTENCES = [
    "MIMO-UNet removes motion blur at the same resolution.",
    "I upscaled a blurry photo by 4x and could still read the signs. How does this model recreate such detail?",
    "Rain streaks are removed by a recurrent network.",
    "ok",
]


def test_unit_rows_of_384_floats(embedder):
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_padding_and_batching_do_not_change_a_text(embedder):
    # A short text alone and beside a long one (so it is padded) must embed the same.
    alone = embedder.embed(["deblurring"])[0]
    batched = embedder.embed(["deblurring", "a much longer sentence " * 40])[0]
    assert float(alone @ batched) > 1 - 1e-5


def test_similar_meanings_score_higher(embedder):
    query, near, far = embedder.embed(["remove blur from a photo", "deblurring an image", "rain on a window"])
    assert query @ near > query @ far


@pytest.mark.slow
def test_matches_sentence_transformers(embedder):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from knowledge.embed import model_dir

    reference = sentence_transformers.SentenceTransformer(str(model_dir()), device="cpu")
    expected = reference.encode(SENTENCES + ["a long text " * 300], normalize_embeddings=True)
    ours = embedder.embed(SENTENCES + ["a long text " * 300])  # the last one is truncated at 256 tokens
    cosine = (expected * ours).sum(axis=1)
    assert np.all(cosine > 1 - 1e-4), cosine


class _Counting:
    name = "counting-test-embedder"
    dimension = 3

    def __init__(self):
        self.seen: list[str] = []

    def embed(self, texts):
        self.seen += list(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_query_cache_embeds_each_text_once_across_processes_and_survives_damage(tmp_path):
    from knowledge.embed import QueryCache

    first = _Counting()
    vectors = QueryCache(first, tmp_path).embed(["alpha", "beta", "alpha"])
    assert first.seen == ["alpha", "beta"] and vectors.shape == (3, 3)
    assert np.array_equal(vectors[0], vectors[2])
    second = _Counting()  # a new process: the file answers
    again = QueryCache(second, tmp_path).embed(["beta", "gamma"])
    assert second.seen == ["gamma"] and np.array_equal(again[0], vectors[1])
    small = QueryCache(_Counting(), tmp_path, capacity=2)
    small.embed(["delta"])  # keeps the 2 most recently used: gamma and delta
    assert set(np.load(small.path)["texts"]) == {"gamma", "delta"}
    small.path.write_bytes(b"not an npz file")
    third = _Counting()
    assert QueryCache(third, tmp_path).embed(["gamma"]).shape == (1, 3) and third.seen == ["gamma"]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_batch_larger_than_the_cache_still_gets_every_vector(tmp_path):
    from knowledge.embed import QueryCache

    texts = [f"text {i}" for i in range(6)]
    vectors = QueryCache(_Counting(), tmp_path, capacity=4).embed(texts)
    assert vectors.shape == (6, 3)
    assert len(np.load(QueryCache(_Counting(), tmp_path).path)["texts"]) == 4  # the file keeps the capacity
