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

from tools.errors import OutputError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], replace: bool = True) -> Path:
    """Call `write(stream)` on a temporary file beside `path`, then rename it to `path`.

    With `replace=False` the file appears under `path` only if nothing is there yet, checked at that very moment
    (a hard link, which fails on an existing name): two writers racing for one name never overwrite each other.
    """
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
        if replace:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)
            except FileExistsError:
                raise OutputError(f"{path} already exists: pass --overwrite or choose another output path") from None
            except OSError:  # a filesystem without hard links (FAT, some network shares): check, then rename
                if path.exists():
                    raise OutputError(f"{path} already exists: pass --overwrite or choose another output path") \
                        from None
                os.replace(temp, path)
            temp.unlink(missing_ok=True)
    except BaseException as error:  # KeyboardInterrupt included: never leave the temporary file behind
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(
                f"cannot write {path} ({error.strerror or error}): free some space or choose another folder"
            ) from error
        raise
    return path
