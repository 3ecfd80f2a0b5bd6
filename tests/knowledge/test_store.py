"""The chromadb store on a tmp path: persistence, rebuilds, card-scoped retrieval, damaged folders, the CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import KnowledgeError
from knowledge.retrieve import rank_papers, retrieve
from knowledge.store import KnowledgeStore
from tests.knowledge.sample import FACES, RAIN, SIGNS, CountingEmbedder, make_card, tiny_docs

REPO = Path(__file__).resolve().parents[2]
CARD_A = make_card(SIGNS, FACES)
CARD_B = make_card(RAIN)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One index holding two cards' documents, shared by the read-only tests."""
    path = tmp_path_factory.mktemp("index") / "index"
    store = KnowledgeStore(path, embedder=CountingEmbedder(), docs=tiny_docs())
    store.ensure(CARD_A)
    store.ensure(CARD_B)
    return store


def test_reopen_from_disk_embeds_nothing_again(built):
    built.close()
    embedder = CountingEmbedder()
    reopened = KnowledgeStore(built.path, embedder=embedder, docs=tiny_docs())
    info = reopened.describe()
    assert info.passages == 7 and info.documents == 6  # 3 project-doc passages, 1 model, 3 papers
    assert info.embedding_model == embedder.name and info.content_hash == reopened.content_hash
    reopened.ensure(CARD_A)
    reopened.ensure(CARD_B)
    assert embedder.texts == 0  # everything was already on disk
    assert retrieve(reopened, CARD_B, "rain streaks", k=1)[0].url == RAIN.paper
    assert embedder.texts == 1  # only the query


def test_a_card_never_sees_another_cards_papers(built):
    # Card A's question is about rain, but the rain paper belongs to card B only.
    passages = retrieve(built, CARD_A, "remove rain streaks from photos", k=20)
    assert passages and {p.url for p in passages} <= CARD_A.provided_links
    assert RAIN.paper not in {p.url for p in passages}
    for passage in passages:
        assert 0.0 <= passage.score <= 1.0
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert {p.url for p in retrieve(built, CARD_B, "street signs and faces", k=20)} <= CARD_B.provided_links


def test_retrieve_finds_the_relevant_passage(built):
    best = retrieve(built, CARD_A, "PSNR in dB on the GoPro benchmark", k=2)
    assert "31.73 dB" in best[0].text and best[0].role == "project-doc"
    assert retrieve(built, CARD_A, "", k=1)  # an empty query falls back to the card's question


def test_rank_papers_orders_by_relevance(built):
    ranked = rank_papers(built, CARD_A, "read the shop names on street signs")
    assert [paper.title for paper, _ in ranked] == [SIGNS.title, FACES.title]
    assert ranked[0][1] > ranked[1][1] > 0
    ranked = rank_papers(built, CARD_A, "make a tiny face eight times larger")
    assert ranked[0][0].title == FACES.title


def test_rebuild_when_project_docs_change(tmp_path):
    path = tmp_path / "index"
    store = KnowledgeStore(path, docs=tiny_docs())
    store.ensure(CARD_B)
    before = store.describe()
    store.close()
    changed = KnowledgeStore(path, docs=tiny_docs(" The decoder also emits residuals."))
    after = changed.describe()
    assert after.content_hash != before.content_hash and after.content_hash == changed.content_hash
    assert after.passages == 3  # only the new project documents: the old card passages went with the old build
    assert any("residuals" in p.text for p in retrieve(changed, CARD_B, "decoder residuals", k=3))


def test_rebuild_when_embedding_model_changes(tmp_path, caplog):
    path = tmp_path / "index"
    KnowledgeStore(path, docs=tiny_docs()).ensure(CARD_B)
    other = CountingEmbedder(name="another/embedding-model")
    with caplog.at_level(logging.WARNING, logger="knowledge.store"):
        store = KnowledgeStore(path, embedder=other, docs=tiny_docs())
        info = store.describe()
    assert info.embedding_model == "another/embedding-model" and info.passages == 3
    assert other.texts == 3  # the project passages were embedded again with the new model
    assert "rebuilding" in caplog.text


def test_explicit_rebuild_drops_card_documents(tmp_path):
    store = KnowledgeStore(tmp_path / "index", docs=tiny_docs())
    store.ensure(CARD_A)
    assert store.rebuild().passages == 3
    store.ensure(CARD_A)  # and they come back on demand
    assert store.describe().passages == 6


def test_corrupted_folder_is_rebuilt_with_a_warning(tmp_path, caplog):
    path = tmp_path / "index"
    store = KnowledgeStore(path, docs=tiny_docs())
    store.ensure(CARD_B)
    store.close()
    (path / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="knowledge.store"):
        fresh = KnowledgeStore(path, docs=tiny_docs())
        passages = retrieve(fresh, CARD_B, "rain", k=2)
    assert "cannot be opened" in caplog.text
    assert passages[0].url == RAIN.paper


def test_deleted_folder_is_rebuilt_with_a_warning(tmp_path, caplog):
    import shutil

    path = tmp_path / "index"
    store = KnowledgeStore(path, docs=tiny_docs())
    store.ensure(CARD_B)
    shutil.rmtree(path)
    with caplog.at_level(logging.WARNING, logger="knowledge.store"):
        again = KnowledgeStore(path, docs=tiny_docs())
        assert retrieve(again, CARD_B, "rain", k=1)[0].url == RAIN.paper
    assert "is gone" in caplog.text


def test_index_path_that_is_a_file_names_the_fix(tmp_path):
    path = tmp_path / "index"
    path.write_text("not a folder")
    with pytest.raises(KnowledgeError, match="CNAPS_HOME"):
        KnowledgeStore(path, docs=tiny_docs()).describe()


@pytest.fixture
def tiny_project_docs(monkeypatch):
    """Make the bundled project documents the tiny ones, so default-path stores embed a handful of passages."""
    import knowledge.ingest

    monkeypatch.setattr(knowledge.ingest, "_bundled_docs", lambda: tuple(tiny_docs()))


def test_search_tool_returns_scoped_passages(tiny_project_docs):
    from tools.search import SearchRequest, SearchResult, search_knowledge

    assert "search" in search_knowledge.__doc__.lower()
    result = search_knowledge(SearchRequest(query="rain streaks", card=CARD_B, k=3))
    assert isinstance(result, SearchResult) and result.passages
    assert {p.url for p in result.passages} <= CARD_B.provided_links
    assert result.passages[0].url == RAIN.paper


def test_cli_index_describes_the_store(tiny_project_docs, tmp_path):
    from typer.testing import CliRunner

    from agent.cli import app

    card = tmp_path / "card.txt"
    card.write_text('A user has asked the following question:\n"How does it deblur?"\n\n### Recommended AI Models:\n'
                    f"Model: MIMO-UNet\nPaper: {CARD_B.models[0].paper}\n\n### Related Papers:\n"
                    f"Model: {RAIN.title}\nPaper: {RAIN.paper}\nSummary: {RAIN.summary}\n")
    runner = CliRunner()
    result = runner.invoke(app, ["index", "--card", str(card), "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["roles"] == {"project-doc": 3, "recommended-model": 1, "related-paper": 1}
    result = runner.invoke(app, ["index", "--rebuild", "--card", str(card)])
    assert result.exit_code == 0 and "passages" in result.stdout


_WRITER = """
import sys
from tests.knowledge.sample import FACES, RAIN, SIGNS, make_card, tiny_docs
from knowledge.store import KnowledgeStore
card = make_card(RAIN) if sys.argv[2] == "b" else make_card(SIGNS, FACES)
KnowledgeStore(sys.argv[1], docs=tiny_docs()).ensure(card)
"""


@pytest.mark.slow
def test_two_processes_index_one_fresh_folder(tmp_path):
    """Two processes creating and filling one fresh index at once both succeed, and it holds both cards."""
    path = tmp_path / "index"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), which], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=str(REPO)) for which in ("a", "b")]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors
    assert not any("cannot be opened" in error for error in errors)  # nobody mistook the other for damage
    store = KnowledgeStore(path, docs=tiny_docs())
    assert store.describe().passages == 7
    assert retrieve(store, CARD_B, "rain", k=1)[0].url == RAIN.paper


def test_retrieve_many_equals_one_query_at_a_time(built):
    from knowledge.retrieve import retrieve_many

    queries = ["rain streaks", "PSNR on GoPro", "faces"]
    batched = retrieve_many(built, CARD_A, queries, k=3)
    for query, passages in zip(queries, batched):
        single = retrieve(built, CARD_A, query, k=3)
        assert [p.id for p in passages] == [p.id for p in single]
        assert [p.score for p in passages] == pytest.approx([p.score for p in single], abs=1e-5)


def test_two_stores_in_one_process_stay_usable_when_one_reopens(tmp_path):
    path = tmp_path / "index"
    first = KnowledgeStore(path, docs=tiny_docs())
    first.ensure(CARD_A)
    second = KnowledgeStore(path, docs=tiny_docs())
    second.reopen()  # drops the chromadb System the first store was using
    second.ensure(CARD_B)
    assert retrieve(first, CARD_B, "rain streaks", k=1)[0].url == RAIN.paper
    assert first.describe().passages == second.describe().passages == 7  # the two cards share the model


_ADD_RAIN = """
import sys
from tests.knowledge.sample import RAIN, make_card, tiny_docs
from knowledge.store import KnowledgeStore
KnowledgeStore(sys.argv[1], docs=tiny_docs()).ensure(make_card(RAIN))
"""


@pytest.mark.slow
def test_a_long_lived_store_sees_another_process_writes(tmp_path, caplog):
    """A server-like store opened before another process adds a card finds that card's passages, losing nothing."""
    path = tmp_path / "index"
    live = KnowledgeStore(path, docs=tiny_docs())
    live.ensure(CARD_A)
    assert retrieve(live, CARD_A, "signs", k=1)[0].url == SIGNS.paper
    subprocess.run([sys.executable, "-c", _ADD_RAIN, str(path)], check=True, cwd=str(REPO), timeout=300)
    with caplog.at_level(logging.WARNING, logger="knowledge"):
        assert retrieve(live, CARD_B, "rain streaks", k=1)[0].url == RAIN.paper
    assert "rebuilding" not in caplog.text and "cannot be queried" not in caplog.text
    assert live.describe().passages == 7  # card A's passages survived


def test_threads_writing_and_reading_one_index_never_take_each_other_for_another_process(tmp_path, caplog,
                                                                                          monkeypatch):
    """Web workers: one adds cards while others query; no thread's write may stop the System another is using."""
    import os
    import time
    from concurrent.futures import ThreadPoolExecutor

    import knowledge.shared_folder as shared_folder

    real_replace = os.replace

    def slow_replace(source, target):  # widens the moment between a new stamp on disk and its record in memory
        real_replace(source, target)
        time.sleep(0.05)

    monkeypatch.setattr(shared_folder.os, "replace", slow_replace)
    path = tmp_path / "index"
    live = KnowledgeStore(path, docs=tiny_docs())  # a long-lived store, as the search tool keeps one
    live.ensure(CARD_A)

    writer = KnowledgeStore(path, docs=tiny_docs())
    writer.ensure(CARD_B)

    def write(_: int) -> None:
        for _ in range(5):
            with writer._locked():
                writer._wrote()  # what every write in this process ends with

    def read(_: int) -> list[str]:
        return [retrieve(live, CARD_A, "signs", k=1)[0].url for _ in range(10)]

    with caplog.at_level(logging.INFO, logger="knowledge"), ThreadPoolExecutor(4) as pool:
        writes = pool.submit(write, 0)
        reads = [pool.submit(read, i) for i in range(3)]
        assert [r.result() for r in reads] == [[SIGNS.paper] * 10] * 3
        writes.result()
    assert "changed in another process" not in caplog.text and "rebuilding" not in caplog.text
