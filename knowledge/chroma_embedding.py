"""The chromadb embedding function cnaps registers: `knowledge.embed.Embedder` behind chromadb's interface."""

from __future__ import annotations

from typing import Any

from knowledge.chroma import chromadb  # noqa: F401 - first: chromadb loads without the `overrides` checks
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.embed import Embedder, shared_embedder


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb adapter for `knowledge.embed.Embedder` (numpy all-MiniLM-L6-v2; never chromadb's default, which
    downloads a model)."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder or shared_embedder()

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "cnaps-minilm-numpy"

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self._embedder.name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()
