"""Chat sessions: least recently used go first beyond the bound, and a session left idle expires."""

from __future__ import annotations

import pytest

from agent.cards import bundled_card
from agent.web.sessions import NotFoundError, SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_session_goes_first():
    store = SessionStore(max_sessions=2, idle_seconds=3600, timer=Clock())
    card = bundled_card()
    first, second = store.create(card, "a"), store.create(card, "b")
    store.get(first.id)  # used: now second is the least recently used
    third = store.create(card, "c")
    assert store.get(first.id) is first and store.get(third.id) is third
    with pytest.raises(NotFoundError):
        store.get(second.id)
    assert len(store) == 2


def test_an_idle_session_expires_and_a_used_one_does_not():
    clock = Clock()
    store = SessionStore(max_sessions=10, idle_seconds=100, timer=clock)
    card = bundled_card()
    idle, busy = store.create(card, "idle"), store.create(card, "busy")
    for _ in range(3):  # 180 s in all, but never 100 s without a question
        clock.now += 60
        assert store.get(busy.id) is busy
    with pytest.raises(NotFoundError):
        store.get(idle.id)
    assert len(store) == 1
    clock.now += 101
    assert len(store) == 0
    with pytest.raises(NotFoundError):
        store.get(busy.id)
