"""One embedded index folder shared by threads and processes: chromadb's in-process Systems, the generation stamp
every write leaves beside the folder (so other processes reopen), and the file lock that serialises writes."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from knowledge.errors import KnowledgeError

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 120.0

# Generation stamp (see SharedFolder._follow_other_writers) that this process's chromadb System has seen, by folder.
seen_generation: dict[str, str] = {}
# Held while a thread compares or advances that stamp: between a writer's new stamp on disk and its record here,
# another thread (a web worker) would take the change for another process's and stop the System in use.
generation_guard = threading.RLock()


def chroma_systems() -> dict:
    """chromadb's in-process Systems by folder."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return SharedSystemClient._identifier_to_system


def forget_system(path: Path) -> None:
    """Drop chromadb's in-process System for `path`: it caches one per folder, and a stale one keeps the damaged
    files open and answers from them. Other folders' Systems are left alone."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = chroma_systems().pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    seen_generation.pop(str(path), None)
    if system is not None:
        try:
            system.stop()
        except Exception as error:  # noqa: BLE001 - a damaged system may fail to stop; it is dropped either way
            log.debug("stopping the chromadb system for %s failed: %s", path, error)


class SharedFolder:
    """The folder-sharing half of `KnowledgeStore`, which sets these attributes in its `__init__` (with `url` set,
    the collection lives on a Chroma server and none of this applies)."""

    path: Path
    url: str | None
    _lock: FileLock
    _generation_file: Path
    _ensured: set[str]
    _client: Any
    _system: Any
    _collection: Any

    def _follow_other_writers(self) -> None:
        """Reconnect when the index changed since this process's chromadb System read it.

        chromadb keeps one System per folder in a process, and its vector index does not see another process's
        writes (queries then miss passages or fail). Every write stamps a generation file beside the folder; a
        System that has not seen the current stamp is dropped and the folder opened afresh.
        """
        key = str(self.path)
        with generation_guard:
            if seen_generation.get(key) != self._generation_on_disk():
                log.info("knowledge index at %s changed in another process; reopening it", self.path)
                forget_system(self.path)
        if self._system is not chroma_systems().get(key):  # dropped just now, or by another store in this process
            self._client = self._system = self._collection = None
            self._ensured.clear()

    def _generation_on_disk(self) -> str:
        try:
            return self._generation_file.read_text(encoding="utf-8")
        except OSError:
            return ""

    def _wrote(self) -> None:
        """Stamp a new generation after a write (with the lock held), so other processes reopen."""
        if self.url is not None:
            return
        stamp = uuid.uuid4().hex
        temp = self._generation_file.with_name(f"{self._generation_file.name}.{stamp}.tmp")
        temp.write_text(stamp, encoding="utf-8")
        with generation_guard:
            os.replace(temp, self._generation_file)
            seen_generation[str(self.path)] = stamp

    def _locked(self):
        if self.url is not None:  # the server serialises its own writes; no lock file under CNAPS_HOME
            return nullcontext()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._lock.acquire(timeout=LOCK_TIMEOUT_S)
        except OSError as error:  # a read-only or misplaced CNAPS_HOME
            raise KnowledgeError(f"cannot write the knowledge index under {self.path.parent} "
                                 f"({error.strerror or type(error).__name__}): set CNAPS_HOME to a writable folder") \
                from None
        except Timeout:
            raise KnowledgeError(f"another cnaps process has held the index lock {self._lock.lock_file} for "
                                 f"{LOCK_TIMEOUT_S:.0f} s: wait for it to finish, or delete the lock file if "
                                 "no cnaps process is running") from None
