"""chromadb, imported with the `overrides` package's signature checks switched off while it loads.

chromadb marks about 160 methods with `overrides.override`, whose decorator disassembles the calling frame and
compares signatures with the base class at import time: a development check that changes nothing at run time and
costs a quarter to a third of `import chromadb` (0.3-0.5 s of a 1-2 s import on the 2-core machine). While chromadb
loads, the decorator only marks the method (`__override__`, which `EnforceOverrides` reads); the original decorator
is put back afterwards, so no other package is affected. `benchmarks/ask_latency.py` measures the import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def _mark(method: Callable[..., Any] | None = None, **_: Any) -> Any:
    """`@override` and `@override(check_signature=...)` without the checks."""
    if method is None:
        return _mark
    method.__override__ = True
    return method


@contextmanager
def unchecked_overrides() -> Iterator[None]:
    """Swap `overrides.override`/`overrides.overrides` for `_mark` for the duration of the block."""
    try:
        import overrides
    except ImportError:  # a chromadb that no longer uses it
        yield
        return
    saved = overrides.override, overrides.overrides
    overrides.override = overrides.overrides = _mark
    try:
        yield
    finally:
        overrides.override, overrides.overrides = saved


if "chromadb" not in sys.modules:
    with unchecked_overrides():
        import chromadb  # noqa: E402
else:
    import chromadb  # noqa: E402



def server_client(url: str):
    """A chromadb HttpClient for the `chroma run` server at `url` (http[s]://host:port), telemetry off.

    Raises ConnectionError when nothing answers there (chromadb checks the server's tenant as it connects)."""
    from urllib.parse import urlsplit

    from chromadb.config import Settings as ChromaSettings

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not http://host:port")
    port = parts.port or (443 if parts.scheme == "https" else 8000)
    try:
        return chromadb.HttpClient(host=parts.hostname, port=port, ssl=parts.scheme == "https",
                                   settings=ChromaSettings(anonymized_telemetry=False))
    except ValueError as error:  # "Could not connect to a Chroma server. Are you sure it is running?"
        raise ConnectionError(str(error)) from None


__all__ = ["chromadb", "server_client", "unchecked_overrides"]
