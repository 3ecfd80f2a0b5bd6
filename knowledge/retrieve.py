"""Retrieval scoped to one card: a card only ever sees the documents it provides.

Every query carries a chromadb `where` filter on the card's document ids and on its provided links, so passages
indexed for another card (another card's papers, an older version of a summary) never come back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from knowledge.cards import NOTES_PREFIX, Card, RelatedPaper
from knowledge.errors import KnowledgeError
from knowledge.ingest import Role, paper_doc_id

if TYPE_CHECKING:  # the store imports chromadb (~2.5 s); Passage users need not pay for it
    from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)


class Passage(BaseModel):
    id: str = Field(description="Passage id in the store (document id + hash of url and text).")
    url: str = Field(description="The card link this passage is cited by.")
    title: str
    role: Role
    text: str
    score: float = Field(ge=0.0, le=1.0, description="Cosine similarity to the query, clipped to [0, 1].")


def card_filter(card: Card, doc_ids: list[str], notes: set[str] = frozenset()) -> dict[str, Any]:
    """The `where` clause that limits a query to this card's documents and links (plus the `cnaps:notes/` ids of
    cnaps's own background documents attached to them)."""
    urls = sorted(card.provided_links | set(notes))
    return {"$and": [{"doc_id": {"$in": sorted(doc_ids)}}, {"url": {"$in": urls}}]}


def _query(store: KnowledgeStore, card: Card, queries: list[str], k: int, doc_ids: list[str] | None = None):
    """Run scoped queries. A store that fails to answer is reopened from disk and asked again, and if it still
    fails, rebuilt (with a warning) and asked once more."""
    documents = store.ensure(card)
    ids = doc_ids if doc_ids is not None else [d.doc_id for d in documents]
    if not ids or not card.provided_links:
        return [[] for _ in queries]
    notes = {d.url for d in documents if d.url.startswith(NOTES_PREFIX)}
    recoveries = (("reopening the index and retrying", store.reopen),
                  ("rebuilding the index and retrying once", store.rebuild))
    for action, recover in recoveries:
        try:
            return store.query(queries, card_filter(card, ids, notes), k)
        except KnowledgeError as error:
            log.warning("%s; %s", error, action)
        recover()
        store.ensure(card)
    return store.query(queries, card_filter(card, ids, notes), k)


def _passages(hits) -> list[Passage]:
    return [Passage(id=chunk.id, url=chunk.url, title=chunk.title, role=chunk.role, text=chunk.text, score=score)
            for chunk, score in hits]


def retrieve(store: KnowledgeStore, card: Card, query: str, k: int = 6) -> list[Passage]:
    """The `k` passages of this card's documents nearest to `query` (the card's question when empty), best first."""
    return retrieve_many(store, card, [query], k)[0]


def retrieve_many(store: KnowledgeStore, card: Card, queries: list[str], k: int = 6) -> list[list[Passage]]:
    """`retrieve` for several queries at once: one embedding batch and one store query instead of one per query."""
    queries = [query.strip() or card.question for query in queries]
    return [_passages(hits) for hits in _query(store, card, queries, k)]


def rank_papers(store: KnowledgeStore, card: Card, query: str) -> list[tuple[RelatedPaper, float]]:
    """The card's related papers ordered by relevance to `query`: each scores its best passage's similarity.

    A paper without a Paper: or GitHub: link is not indexed and scores 0. Ties keep the card's order.
    """
    query = query.strip() or card.question
    ids = {paper_doc_id(paper) for paper in card.papers} - {None}
    best: dict[str, float] = {}
    if ids:
        for chunk, score in _query(store, card, [query], k=1000, doc_ids=sorted(ids))[0]:
            best[chunk.doc_id] = max(best.get(chunk.doc_id, 0.0), score)
    scored = [(paper, best.get(paper_doc_id(paper) or "", 0.0)) for paper in card.papers]
    return sorted(scored, key=lambda pair: pair[1], reverse=True)
