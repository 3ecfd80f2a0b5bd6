"""Fixtures for the web app: a scripted answer engine (no index, no weights) and a TestClient around it."""

from __future__ import annotations

import pytest

from tests.web.scripted import ScriptedAsk


@pytest.fixture
def scripted() -> ScriptedAsk:
    return ScriptedAsk()


@pytest.fixture
def make_client(scripted, monkeypatch):
    """Build a TestClient; keyword arguments become CNAPS_ environment settings (e.g. SERVER__WORKERS=1)."""
    from fastapi.testclient import TestClient

    from agent.settings import get_settings
    from agent.web.app import create_app

    clients = []

    def build(**env: object) -> TestClient:
        for key, value in env.items():
            monkeypatch.setenv(f"CNAPS_{key}", str(value))
        get_settings.cache_clear()
        client = TestClient(create_app(ask_fn=scripted))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    if scripted.gate is not None:
        scripted.gate.set()
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()
