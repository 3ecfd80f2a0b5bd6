"""The knowledge store on a Chroma server (CNAPS_KNOWLEDGE__URL): a `chroma run` on loopback that each test
starts and stops by its PID, the same collection and content-hash checks, nothing embedded under CNAPS_HOME."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from agent.errors import KnowledgeError
from knowledge.retrieve import retrieve
from knowledge.store import KnowledgeStore
from tests.knowledge.sample import RAIN, SIGNS, CountingEmbedder, make_card, tiny_docs

CHROMA = shutil.which("chroma")
pytestmark = pytest.mark.skipif(CHROMA is None, reason="the `chroma` command (chromadb's server) is not installed")
CARD = make_card(SIGNS, RAIN)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ChromaServer:
    """`chroma run --path PATH --host 127.0.0.1 --port PORT`, started and stopped by its PID."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path, self.port = path, port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "ChromaServer":
        log = open(self.path.parent / f"chroma-{self.port}.log", "ab")
        self.process = subprocess.Popen([CHROMA, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port",
                                         str(self.port)], stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@pytest.fixture
def server(tmp_path):
    running = ChromaServer(tmp_path / "chroma").start()
    yield running
    running.stop()


def _home_files(home: Path) -> set[str]:
    return {str(path.relative_to(home)) for path in home.rglob("*")}


def test_the_store_lives_on_the_server_and_nothing_is_embedded_under_home(server, monkeypatch, _isolated_home):
    monkeypatch.setenv("CNAPS_KNOWLEDGE__URL", server.url)
    from agent.settings import get_settings

    get_settings.cache_clear()
    embedder = CountingEmbedder()
    store = get_settings().knowledge_store(embedder=embedder, docs=tiny_docs())
    store.ensure(CARD)
    assert "31.73 dB" in retrieve(store, CARD, "PSNR in dB on the GoPro benchmark", k=1)[0].text
    info = store.describe()
    assert info.path == server.url and info.passages == 6  # 3 project-doc passages, 1 model, 2 papers
    home = _isolated_home
    assert not get_settings().index_dir.exists()
    assert not any("index" in name or name.endswith(".lock") for name in _home_files(home))

    # Another process (here: another store) finds the passages on the server and embeds none of them again.
    second = CountingEmbedder()
    again = get_settings().knowledge_store(embedder=second, docs=tiny_docs())
    again.ensure(CARD)
    assert retrieve(again, CARD, "rain streaks", k=1)[0].url == RAIN.paper
    assert second.texts == 1  # the query only: the server holds the vectors, cnaps computed them


def test_other_documents_rebuild_the_servers_collection(server):
    KnowledgeStore(url=server.url, docs=tiny_docs()).ensure(CARD)
    changed = KnowledgeStore(url=server.url, docs=tiny_docs(extra="\n\nA new paragraph on the decoder."))
    info = changed.describe()
    assert info.content_hash == changed.content_hash != KnowledgeStore(url=server.url, docs=tiny_docs()).content_hash
    assert info.passages == 3  # rebuilt with the project documents alone; the card's are added on demand
    changed.ensure(CARD)
    assert changed.describe().passages == 6


def test_a_server_that_is_not_running_is_a_one_line_error_naming_it(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(KnowledgeError) as caught:
        KnowledgeStore(url=url, docs=tiny_docs()).ensure(CARD)
    assert time.monotonic() - started < 10
    assert url in str(caught.value) and "\n" not in str(caught.value)


def test_the_cli_says_so_in_one_line_when_the_server_is_down(tmp_path):
    import sys

    env = {**os.environ, "CNAPS_KNOWLEDGE__URL": f"http://127.0.0.1:{_free_port()}", "CNAPS_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "index"], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert done.returncode == 6, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and env["CNAPS_KNOWLEDGE__URL"] in done.stderr
    assert not (tmp_path / "index").exists()


@pytest.mark.slow
def test_a_server_stopped_mid_session_fails_one_call_and_serves_again_once_back(server):
    embedder = CountingEmbedder()
    store = KnowledgeStore(url=server.url, embedder=embedder, docs=tiny_docs())
    store.ensure(CARD)
    assert retrieve(store, CARD, "rain streaks", k=1)[0].url == RAIN.paper

    server.stop()  # SIGTERM to its PID, in the middle of the session
    with pytest.raises(KnowledgeError) as caught:
        retrieve(store, CARD, "street signs", k=1)
    assert server.url in str(caught.value) and "\n" not in str(caught.value)

    server.start()  # the same folder and port: the collection is still there, nothing is rebuilt
    embedded = embedder.texts
    assert retrieve(store, CARD, "street signs", k=1)[0].url == SIGNS.paper
    assert KnowledgeStore(url=server.url, embedder=embedder, docs=tiny_docs()).describe().passages == 6
    assert embedder.texts - embedded <= 1  # at most the new query: no passage was embedded again
