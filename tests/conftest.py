"""Shared fixtures. Tests never touch the internet or need a GPU by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    skip_llm = pytest.mark.skip(reason="set CNAPS_TEST_LLM_URL to a running OpenAI-compatible server")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
        if "llm_real" in item.keywords and not os.environ.get("CNAPS_TEST_LLM_URL"):
            item.add_marker(skip_llm)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own CNAPS_HOME and no LLM endpoint unless it sets one."""
    home = tmp_path_factory.mktemp("cnaps_home")
    monkeypatch.setenv("CNAPS_HOME", str(home))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CNAPS_LLM_MODEL", "CNAPS_WEIGHTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    from agent.settings import get_settings

    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_cards() -> list[Path]:
    """The shared example cards: ../shared/cards beside a development checkout, else the copies bundled in
    agent/data/cards (a clean clone, CI)."""
    cards = sorted((SHARED / "cards").glob("*.txt"))
    return cards or sorted(path for path in (REPO / "agent" / "data" / "cards").glob("0*.txt"))
