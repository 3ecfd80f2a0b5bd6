"""Fixtures of the agent tests: one CNAPS_HOME (and so one index) per test module."""

from __future__ import annotations

import pytest

from agent.settings import get_settings


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    return tmp_path_factory.mktemp("agent_home")


@pytest.fixture
def home(shared_home, monkeypatch):
    monkeypatch.setenv("CNAPS_HOME", str(shared_home))
    get_settings.cache_clear()
    return shared_home
