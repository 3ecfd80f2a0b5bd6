"""The knowledge store's error: it cannot be built, opened or queried (the fix is in the message)."""

from __future__ import annotations

from tools.errors import CnapsError


class KnowledgeError(CnapsError):
    """The knowledge store cannot be built, opened or queried."""

    exit_code = 6
    http_status = 503
