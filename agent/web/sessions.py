"""Chat sessions: the card and the conversation so far, kept in memory under opaque ids.

A session lets a follow-up question reuse the card and pass the earlier turns to the answer engine. The store is
bounded (least recently used sessions go first) so a client that opens sessions in a loop cannot grow the server.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

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


class SessionStore:
    """At most `max_sessions` sessions, each keeping its last `max_turns` question/answer pairs."""

    def __init__(self, max_sessions: int = 256, max_turns: int = 10) -> None:
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._sessions: OrderedDict[str, ChatSession] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, card: Card, card_label: str) -> ChatSession:
        session = ChatSession(id=new_id(), card=card, card_label=card_label)
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str) -> ChatSession:
        with self._lock:
            session = self._sessions.get(session_id) if OPAQUE_ID.match(session_id) else None
            if session is None:
                raise NotFoundError("unknown or expired chat session: start a new chat (send the card again)")
            self._sessions.move_to_end(session_id)
            return session

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
