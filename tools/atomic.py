"""Atomic file writes: a temporary file beside the target, flushed to disk, then renamed over it.

Readers never see a partial file, a failed or interrupted write leaves nothing behind, and the new file's
permissions follow the umask (unlike `tempfile.mkstemp`, which makes files only the owner can read).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from agent.errors import OutputError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(stream)` on a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.partial"  # same folder: the rename stays atomic
    try:
        stream = open(temp, "xb")
    except OSError as error:
        raise OutputError(
            f"cannot write into {path.parent} ({error.strerror or error}): choose a writable, existing folder"
        ) from error
    try:
        with stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException as error:  # KeyboardInterrupt included: never leave the temporary file behind
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(
                f"cannot write {path} ({error.strerror or error}): free some space or choose another folder"
            ) from error
        raise
    return path
