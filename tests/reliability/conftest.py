"""Fixtures for the reliability suite: the generated corpus, tiny weights, an in-process `cnaps`, a store stand-in.

The corpus is generated once per session into a tmp folder and hashed; tests that read it check afterwards that
every input is still byte-for-byte the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.corpus import CARD_CASES, IMAGE_CASES, digest_tree
from tests.tools.conftest import _one_torch_thread  # noqa: F401  (autouse: one torch thread, as there)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """test-mimo-unet with random weights, saved as .safetensors."""
    import torch

    from tools.restoration import build_model
    from tools.restoration.checkpoint import save_safetensors

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_safetensors(build_model("test-mimo-unet"), path, {"description": "random reliability-test weights"},
                     dtype=torch.float32)
    return path


@dataclass
class Corpus:
    root: Path
    images: dict[str, Path]
    cards: dict[str, Path]
    digest: dict[str, str]

    def assert_unchanged(self) -> None:
        assert digest_tree(self.root) == self.digest, "an input file of the corpus was changed, added or removed"


@pytest.fixture(scope="session")
def _corpus_session(tmp_path_factory) -> Corpus:
    root = tmp_path_factory.mktemp("corpus")
    (root / "images").mkdir()
    (root / "cards").mkdir()
    images = {case.name: case.write(root / "images") for case in IMAGE_CASES}
    cards = {case.name: case.write(root / "cards") for case in CARD_CASES}
    return Corpus(root=root, images=images, cards=cards, digest=digest_tree(root))


@pytest.fixture
def corpus(_corpus_session) -> Corpus:
    """The generated bad inputs; after the test, every one must be unchanged."""
    yield _corpus_session
    _corpus_session.assert_unchanged()


@pytest.fixture
def cnaps(monkeypatch, capsys):
    """Run `cnaps ARGS...` in this process through `agent.cli.main` (its real error mapping); (code, out, err)."""
    from agent.cli import main

    def run(*args: object) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["cnaps", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def run_cli(*args: object, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess: `python -m agent.cli ARGS...`."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "agent.cli", *map(str, args)], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def card_passages(card, question, needs_upscale, datasets=()):
    """Stands in for `agent.ask.gather_passages`: 'retrieves' the card's own text, hostile parts included.

    Every related paper's title and summary becomes a passage under its Paper: link (or a made-up id when the
    card gave none), as the real store would hold it, so what a summary says reaches the composer verbatim.
    """
    from agent.schemas import Source

    passages = []
    for i, model in enumerate(card.models):
        url = model.paper or model.github or f"card-model-{i}"
        passages.append(Source(id=f"m{i}", url=url, score=0.9, title=model.name,
                               text=f"{model.name} feeds the blurred image to one encoder at full, half and quarter "
                                    "scale. Its single decoder emits a restored image at each of the three scales."))
    for i, paper in enumerate(card.papers):
        url = paper.paper or paper.github or f"card-paper-{i}"
        passages.append(Source(id=f"p{i}", url=url, score=0.5 - i * 0.01, title=paper.title,
                               text=f"{paper.title}. {paper.summary}"))
    return passages


@pytest.fixture
def offline_store(monkeypatch):
    """`ask` without the chromadb store: passages come from the card text itself (fast, and hostile-friendly)."""
    monkeypatch.setattr("agent.ask.gather_passages", card_passages)
    return card_passages
