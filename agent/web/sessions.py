"""Chat sessions: the card and the conversation so far, kept in memory under opaque ids.

A session lets a follow-up question reuse the card and pass the earlier turns to the answer engine. The store is
bounded (least recently used sessions go first) so a client that opens sessions in a loop cannot grow the server,
and a session nobody has used for `idle_seconds` expires (cachetools' TTLCache does both).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import TTLCache

from agent.cards import Card
from agent.errors import UsageError

OPAQUE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)


def new_id() -> str:
    """An unguessable id that is also safe as a folder name: 22 characters of [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(16)


class NotFoundError(UsageError):
    """A session or file id that this server does not hold."""

    http_status = 404


@dataclass
class ChatSession:
    id: str
    card: Card
    card_label: str
    history: list[tuple[str, str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    updated: float = field(default_factory=time.time)

    def add_turn(self, question: str, answer_markdown: str, run_id: str, max_turns: int) -> None:
        self.history += [("user", question), ("assistant", answer_markdown)]
        self.history = self.history[-2 * max_turns:]
        self.runs.append(run_id)
        self.updated = time.time()


IDLE_SECONDS = 6 * 3600  # a chat left alone this long is forgotten


class SessionStore:
    """At most `max_sessions` sessions, each keeping its last `max_turns` question/answer pairs; a session unused
    for `idle_seconds` expires. `timer` is the clock (tests pass a fake one)."""

    def __init__(self, max_sessions: int = 256, max_turns: int = 10, idle_seconds: float = IDLE_SECONDS,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._sessions: TTLCache[str, ChatSession] = TTLCache(maxsize=max_sessions, ttl=idle_seconds, timer=timer)
        self._lock = threading.Lock()  # TTLCache is not thread-safe; workers and the event loop share the store

    def create(self, card: Card, card_label: str) -> ChatSession:
        session = ChatSession(id=new_id(), card=card, card_label=card_label)
        with self._lock:
            self._sessions[session.id] = session  # beyond max_sessions, the least recently used goes
        return session

    def get(self, session_id: str) -> ChatSession:
        with self._lock:
            session = self._sessions.get(session_id) if OPAQUE_ID.match(session_id) else None
            if session is None:
                raise NotFoundError("unknown or expired chat session: start a new chat (send the card again)")
            self._sessions[session_id] = session  # setting it again restarts its idle time (and marks it used)
            return session

    def __len__(self) -> int:
        with self._lock:
            self._sessions.expire()
            return len(self._sessions)
