"""Faults from outside: a damaged index, two writers, an endpoint that dies mid-stream, CUDA out of memory, a full
disk, Ctrl-C in a batch. Each must end in a working answer or a clean one-line error, with nothing half-written.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from PIL import Image

from tests.reliability.conftest import REPO
from tests.reliability.corpus import card_text, encode, files_under, noise, rgb_png
from tests.reliability.test_cli_bad_input import assert_one_line_error, tiny

# --- the knowledge index ----------------------------------------------------------------------------------------


@pytest.fixture
def small_project_docs(monkeypatch):
    """The real store and `ask`, over the knowledge tests' two tiny project documents (a few passages to embed)."""
    from tests.knowledge.sample import tiny_docs

    monkeypatch.setattr("knowledge.store.project_docs", tiny_docs)
    return tiny_docs


def test_index_deleted_or_corrupted_between_runs_is_rebuilt(small_project_docs, caplog, tmp_path):
    import shutil

    from agent.ask import ask
    from agent.cards import parse_card
    from agent.settings import get_settings

    card = parse_card(card_text())
    first = ask(card, llm="none")
    index = get_settings().index_dir
    (index / "chroma.sqlite3").write_bytes(b"\x00garbage, not SQLite\x00" * 500)
    with caplog.at_level(logging.WARNING, logger="knowledge.store"):
        after_corruption = ask(card, llm="none")
    assert "rebuilding" in caplog.text
    shutil.rmtree(index)
    after_deletion = ask(card, llm="none")
    for answer in (after_corruption, after_deletion):
        assert [r.url for r in answer.references] == [r.url for r in first.references]
        assert {s.id for s in answer.sources} == {s.id for s in first.sources}
    with sqlite3.connect(index / "chroma.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


_INDEX_ONE_CARD = """
import sys
from agent.cards import parse_card
from knowledge.store import KnowledgeStore
from tests.knowledge.sample import tiny_docs
from tests.reliability.corpus import card_text
card = parse_card(card_text(related=sys.argv[2], related_paper="https://example.org/" + sys.argv[2] + ".pdf",
                            summary="A paper about " + sys.argv[2] + " written for the lock test."))
KnowledgeStore(sys.argv[1], docs=tiny_docs()).ensure(card)
print("indexed", sys.argv[2])
"""


def test_two_processes_indexing_at_once_corrupt_nothing(tmp_path):
    from knowledge.store import KnowledgeStore
    from tests.knowledge.sample import tiny_docs

    index = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    writers = [subprocess.Popen([sys.executable, "-c", _INDEX_ONE_CARD, str(index), name], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("deraining", "dehazing")]
    results = [writer.communicate(timeout=240) for writer in writers]
    assert [w.returncode for w in writers] == [0, 0], [err[-800:] for _, err in results]
    assert all("cannot be opened" not in err and "Traceback" not in err for _, err in results)
    with sqlite3.connect(index / "chroma.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = KnowledgeStore(index, docs=tiny_docs())
    urls = {meta["url"] for meta in store.collection.get(include=["metadatas"])["metadatas"]}
    assert {"https://example.org/deraining.pdf", "https://example.org/dehazing.pdf"} <= urls


# --- the language model -----------------------------------------------------------------------------------------


def test_llm_endpoint_dying_mid_stream_gives_the_deterministic_answer(cnaps, offline_store, monkeypatch, tmp_path):
    from tests.llm.fake_openai import FakeOpenAI, Reply

    card = tmp_path / "card.txt"
    card.write_text(card_text())
    code, offline, err = cnaps("ask", card, "--llm", "none", "--format", "json")
    assert code == 0, err
    secret = "sk-reliability-0123456789"
    draft = json.dumps({"task": {"label": "both", "text": "You enlarged a photo " + "and more " * 40}})
    with FakeOpenAI([Reply(content=draft, cut_after=40) for _ in range(6)]) as endpoint:
        monkeypatch.setenv("OPENAI_BASE_URL", endpoint.url)
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        monkeypatch.setenv("CNAPS_LLM__RETRIES", "0")
        monkeypatch.setenv("CNAPS_LLM__TIMEOUT", "10")
        from agent.settings import get_settings

        get_settings.cache_clear()
        code, out, err = cnaps("ask", card, "--llm", "openai", "--format", "json")
    assert code == 0, err
    assert endpoint.requests, "the endpoint was never called"
    assert "Traceback" not in out + err and secret not in out + err
    answer, expected = json.loads(out), json.loads(offline)
    assert answer["engine"] == "composer"
    [note] = [n for n in answer["notes"] if "language model" in n and "not used" in n]
    assert "broke off" in note, note  # the failure was the cut stream, not something else
    for part in ("task", "workflow", "references", "sources"):
        assert answer[part] == expected[part], part


# --- CUDA out of memory -----------------------------------------------------------------------------------------


def _oom_above(edge: int):
    """A TileForward.__call__ that raises CUDA OOM for any tile with a side over `edge` pixels."""
    import torch

    from tools.restoration.tile_forward import TileForward

    real = TileForward.__call__

    def call(self, x):
        if max(x.shape[-2:]) > edge:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated for a {tuple(x.shape)} tile)")
        return real(self, x)

    return call


def test_cuda_oom_splits_tiles_until_they_fit(cnaps, tiny_weights, tmp_path, monkeypatch):
    from tools.restoration.tile_forward import TileForward

    source = tmp_path / "photo.png"
    source.write_bytes(rgb_png(200, 150))
    monkeypatch.setattr(TileForward, "__call__", _oom_above(100))
    code, out, err = cnaps("restore", source, tmp_path / "out.png", *tiny(tiny_weights), "--tile", "none",
                           "--format", "json")
    assert code == 0, err
    [entry] = json.loads(out)
    record = entry["record"]
    assert record["tiles"] > 1 and max(int(n) for n in record["tile_size"].split("x")) <= 100
    assert any("out of memory" in note for note in record["notes"])
    assert Image.open(tmp_path / "out.png").size == (200, 150)


def test_cuda_oom_at_the_smallest_tile_is_a_clean_error(cnaps, tiny_weights, tmp_path, monkeypatch):
    from tools.restoration.tile_forward import TileForward

    source = tmp_path / "photo.png"
    source.write_bytes(rgb_png(200, 150))
    monkeypatch.setattr(TileForward, "__call__", _oom_above(0))
    code, out, err = cnaps("restore", source, tmp_path / "out" / "o.png", *tiny(tiny_weights))
    assert_one_line_error(code, out, err, "memory")
    assert files_under(tmp_path / "out") == []


# --- a full disk ------------------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs with about 2 KiB left: writes fail with a real ENOSPC. Skips where mounting is not allowed."""
    folder = tmp_path / "tiny-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a tmpfs here (needs root); the ENOSPC simulation test covers this")
    try:
        filler = folder / "filler.bin"
        with open(filler, "wb", buffering=0) as file:
            try:
                while True:
                    file.write(b"\x00" * 1024)
            except OSError:
                pass
        free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
        if free < 2048:
            filler.write_bytes(filler.read_bytes()[:-4096])
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_disk_full_on_a_real_tmpfs(full_disk, cnaps, tiny_weights, tmp_path, offline_store):
    source = tmp_path / "noise.png"
    source.write_bytes(rgb_png(160, 120))  # about 57 KB of incompressible PNG
    before = source.read_bytes()
    code, out, err = cnaps("restore", source, full_disk / "out.png", *tiny(tiny_weights))
    assert_one_line_error(code, out, err, "space")
    assert code == 4
    code, out, err = cnaps("report", "-o", full_disk / "report.html", "--llm", "none")
    assert_one_line_error(code, out, err, "space")
    assert [p.name for p in files_under(full_disk)] == ["filler.bin"]
    assert source.read_bytes() == before


def test_disk_full_simulated(cnaps, tiny_weights, tmp_path, monkeypatch, offline_store):
    """ENOSPC from the final flush to disk, after bytes were written: no partial or temp file may remain."""
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    source = tmp_path / "photo.png"
    source.write_bytes(rgb_png(48, 32))
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(os, "fsync", full)
    code, stdout, err = cnaps("restore", source, out / "o.png", *tiny(tiny_weights))
    assert_one_line_error(code, stdout, err, "space")
    code, stdout, err = cnaps("report", "-o", out / "report.html", "--llm", "none")
    assert_one_line_error(code, stdout, err, "space")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert files_under(out) == []


# --- Ctrl-C in a batch ------------------------------------------------------------------------------------------


_HELD_BATCH = """
import sys, time
from tools.restoration.tile_forward import TileForward

HOLD_AT = int(sys.argv[1])
runs = []
start_run = TileForward.start_run


def held(self):
    start_run(self)
    runs.append(1)
    if len(runs) == HOLD_AT:  # this image is being restored; the ones before it are written
        print("cnaps-test: holding image", HOLD_AT, file=sys.stderr, flush=True)
        time.sleep(120)  # Ctrl-C arrives here


TileForward.start_run = held
from agent.cli import main

sys.argv = ["cnaps", *sys.argv[2:]]
main()
"""


def test_ctrl_c_during_a_batch_keeps_finished_files_and_removes_the_unfinished(tiny_weights, tmp_path):
    """The batch is held in the middle of its sixth image (it says so on stderr) and interrupted there: no race
    with a fast batch that could finish before the signal on a busy machine."""
    import threading

    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    count, hold = 12, 6
    for i in range(count):
        (source / f"img{i:02d}.png").write_bytes(encode(Image.fromarray(noise(192, 128, i), "RGB"), "PNG"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", _HELD_BATCH, str(hold), "restore", source, out,
                                *tiny(tiny_weights), "--tile", "none"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    holding = threading.Event()  # set when the batch holds, or when it ended without holding
    lines: list[str] = []

    def read_stderr() -> None:
        for line in process.stderr:
            lines.append(line)
            if line.startswith("cnaps-test: holding"):
                holding.set()
        holding.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        holding.wait(timeout=180)
        assert any(line.startswith("cnaps-test: holding") for line in lines), "".join(lines)[-800:]
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=20)
    reader.join(timeout=20)
    stderr = "".join(lines)
    assert process.returncode == 130, stderr[-800:]
    assert "Traceback" not in stderr and "interrupted" in stderr
    written = files_under(out)
    assert [p.name for p in written] == [f"img{i:02d}.png" for i in range(hold - 1)]  # no temp or partial file
    for path in written:
        with Image.open(path) as image:
            image.load()
            assert image.size == (192, 128)
