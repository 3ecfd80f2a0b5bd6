"""Knowledge-store fixtures (data in sample.py)."""

from __future__ import annotations

import pytest

from knowledge.embed import Embedder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()
