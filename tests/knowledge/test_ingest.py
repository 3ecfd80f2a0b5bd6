"""Cards and project documents into documents and passages."""

from __future__ import annotations

import re

import pytest

from agent.cards import RelatedPaper
from agent.errors import KnowledgeError
from knowledge.ingest import (
    MAX_SUMMARY_WORDS,
    MAX_WORDS,
    DOCS_DIR,
    card_documents,
    chunk_document,
    chunk_text,
    docs_hash,
    load_project_docs,
    project_docs,
)
from agent.schemas import NOTES_PREFIX
from tests.knowledge.sample import FACES, MIMO_GITHUB, MIMO_PAPER, PAPER, RAIN, make_card, tiny_docs


def test_project_docs_cite_only_the_two_mimo_unet_links():
    docs = project_docs()
    assert len(docs) >= 4
    # cnaps's own background is cited as notes (an id, not a link) and joins the paper's card link.
    notes = [d for d in docs if d.url.startswith(NOTES_PREFIX)]
    assert [d.url for d in notes] == [NOTES_PREFIX + "deblurring-vs-super-resolution"]
    assert notes[0].attach == [MIMO_PAPER]
    assert {d.url for d in docs} - {d.url for d in notes} == {MIMO_PAPER, MIMO_GITHUB}
    for path in DOCS_DIR.glob("*.md"):
        links = re.findall(r"https?://\S+", path.read_text())
        assert set(links) <= {MIMO_PAPER, MIMO_GITHUB}, path


def test_shared_card_documents(shared_cards):
    from agent.cards import load_card

    card = load_card(shared_cards[0])
    documents = card_documents(card)
    roles = [d.role for d in documents]
    assert roles.count("recommended-model") == len(card.models)
    assert roles.count("related-paper") == len(card.papers)
    assert roles.count("project-doc") == len(project_docs())  # both MIMO-UNet links are on the card
    assert {d.url for d in documents if not d.url.startswith(NOTES_PREFIX)} <= card.provided_links


def test_summary_links_are_never_document_links():
    documents = card_documents(make_card(FACES), tiny_docs())
    paper = next(d for d in documents if d.role == "related-paper")
    assert paper.url == FACES.paper and paper.github == FACES.github
    assert "https://evil.example/steal" in paper.text  # kept as data ...
    assert all("evil" not in d.url and "evil" not in d.github for d in documents)  # ... never as a link


def test_model_document_joins_the_project_docs_of_its_links():
    documents = card_documents(make_card(), tiny_docs())
    model = next(d for d in documents if d.role == "recommended-model")
    assert model.url == PAPER and set(model.includes) == {"doc-arch", "doc-results"}
    assert {d.doc_id for d in documents} == {model.doc_id, "doc-arch", "doc-results"}
    # A model whose links match no project doc gets only its own document.
    other = make_card()
    other.models[0].paper, other.models[0].github = "https://example.org/other.pdf", None
    assert [d.role for d in card_documents(other, tiny_docs())] == ["recommended-model"]


def test_ids_follow_url_and_content():
    a = card_documents(make_card(RAIN), tiny_docs())
    b = card_documents(make_card(RAIN, FACES, question="something else"), tiny_docs())
    changed = RelatedPaper(**{**RAIN.model_dump(), "summary": RAIN.summary + " Now with snow."})
    c = card_documents(make_card(changed), tiny_docs())
    rain_id = {d.doc_id for d in a if d.role == "related-paper"}
    assert rain_id <= {d.doc_id for d in b}  # two cards citing the same paper share it
    assert not rain_id & {d.doc_id for d in c}  # a changed summary is a new document
    assert docs_hash(tiny_docs()) != docs_hash(tiny_docs(" More."))


def test_a_huge_summary_is_indexed_only_up_to_the_cap():
    huge = RelatedPaper(title="Huge", paper="https://example.org/huge.pdf", summary="blur " * 100_000)
    paper = next(d for d in card_documents(make_card(huge), []) if d.role == "related-paper")
    assert len(paper.text.split()) <= MAX_SUMMARY_WORDS + 3
    assert len(chunk_document(paper)) <= MAX_SUMMARY_WORDS // 150


def test_paper_without_links_is_not_indexed():
    assert [d.role for d in card_documents(make_card(RelatedPaper(title="No links")), [])] == ["recommended-model"]


def test_chunks_stay_within_bounds_and_keep_their_heading():
    paragraph = " ".join(f"Sentence number {i} says something about blur." for i in range(60))  # ~420 words
    text = f"# Long\n\n{paragraph}\n\n# Short\n\nOne short paragraph."
    passages = chunk_text(text)
    assert len(passages) >= 3
    for passage in passages:
        assert len(passage.split()) <= MAX_WORDS + 5  # the heading line may add a few words
        assert passage.startswith("# Long") or passage.startswith("# Short")
    assert passages[-1] == "# Short\n\nOne short paragraph."
    assert " ".join(" ".join(p.split()[2:]) for p in passages[:-1]) == paragraph


def test_a_long_paragraph_is_never_cut_after_an_abbreviation():
    sentences = [f"Tools such as model {i}, e.g. CLIP or ViT, see et al. (2021) for more words here." for i in range(40)]
    passages = chunk_text(" ".join(sentences))
    assert len(passages) >= 2
    for passage in passages:
        assert passage.startswith("Tools such as") and passage.endswith("here.")


def test_chunk_ids_are_unique_and_deterministic():
    chunks = [c for d in card_documents(make_card(RAIN, FACES), tiny_docs()) for c in chunk_document(d)]
    again = [c for d in card_documents(make_card(RAIN, FACES), tiny_docs()) for c in chunk_document(d)]
    assert len({c.id for c in chunks}) == len(chunks)
    assert [c.id for c in chunks] == [c.id for c in again]


@pytest.mark.parametrize("text", ["no front matter", "---\ntitle: t\nurl: u\n", "---\ntitle: t\n---\nbody"])
def test_bad_front_matter_names_the_fix(tmp_path, text):
    (tmp_path / "bad.md").write_text(text)
    with pytest.raises(KnowledgeError, match="front matter"):
        load_project_docs(tmp_path)
