"""The project documents answer every fact the composer's workflow asks for (so a doc edit cannot silently drop one)."""

from __future__ import annotations

from agent.cards import Card, RecommendedModel
from agent.plan import ASPECTS
from agent.sentences import split_sentences
from knowledge.retrieve import retrieve_many
from knowledge.store import KnowledgeStore
from tests.knowledge.sample import MIMO_GITHUB, MIMO_PAPER


def _supports(sentence: str, require: tuple[tuple[str, ...], ...]) -> bool:
    lowered = f" {sentence.lower()} "
    return all(any(word in lowered for word in group) for group in require)


def test_every_workflow_aspect_is_found_in_the_top_four(tmp_path):
    card = Card(question="How does MIMO-UNet restore a blurry photo?",
                models=[RecommendedModel(name="MIMO-UNet", paper=MIMO_PAPER, github=MIMO_GITHUB)])
    store = KnowledgeStore(tmp_path / "index")
    results = retrieve_many(store, card, [aspect.query for aspect in ASPECTS], k=4)
    missing = [aspect.key for aspect, passages in zip(ASPECTS, results)
               if not any(_supports(s, aspect.require) for p in passages for s in split_sentences(p.text))]
    assert not missing, f"no retrieved sentence supports: {missing}"
