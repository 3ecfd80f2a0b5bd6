"""The knowledge-search tool: a typed function the agent calls; its docstring is its description for the model."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from knowledge.cards import Card
from knowledge.retrieve import Passage

_stores: dict[tuple[Path, str | None], object] = {}


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="What to look up, in plain words.")
    card: Card = Field(description="The card whose documents may be searched; no other card's are visible.")
    k: int = Field(4, ge=1, le=10, description="How many passages to return.")


class SearchResult(BaseModel):
    passages: list[Passage] = Field(description="Best first; each has an id, the card link it cites, and a score.")


def search_knowledge(request: SearchRequest) -> SearchResult:
    """Search the documents this card provides (the recommended model's paper and code, the related papers and
    cnaps' notes on them) and return the passages closest in meaning to the query, best first. Each passage has an
    id, the url to cite it by, a title, its text and a relevance score from 0 to 1. Use it before stating any fact
    about a model, its training data or its results; cite only the urls it returns."""
    from agent.settings import get_settings
    from knowledge.retrieve import retrieve
    settings = get_settings()
    key = (settings.index_dir, settings.knowledge.url)
    store = _stores.get(key)
    if store is None:
        store = _stores[key] = settings.knowledge_store()
    return SearchResult(passages=retrieve(store, request.card, request.query, k=request.k))
