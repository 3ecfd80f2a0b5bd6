"""The persistent knowledge store: one chromadb collection of passages under `Settings.index_dir`.

The collection's metadata records the embedding model and a content hash of the project documents (and chunking
rules); when either differs from this code's, the collection is rebuilt. Cards add their documents on demand
(`ensure`); passage ids hash url and text, so cards that share a paper share its passages.

Failure policy: an index folder chromadb cannot open (corrupted, half-deleted) is moved out of the way and rebuilt
with a logged warning; writes from several processes are serialised by a file lock beside the folder.

With CNAPS_KNOWLEDGE__URL the collection lives on a Chroma server (`chroma run`) that every cnaps process shares:
the same collection, metadata and content-hash check, no folder, lock or generation file under CNAPS_HOME. cnaps
embeds passages and queries itself, so the server holds vectors and needs no model. A server that does not
answer is a KnowledgeError naming it.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from knowledge.chroma import chromadb, server_client  # first: chromadb loads without the `overrides` checks
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from filelock import FileLock
from pydantic import BaseModel, Field

from knowledge.cards import Card
from knowledge.chroma_embedding import MiniLMEmbeddingFunction
from knowledge.errors import KnowledgeError
from knowledge.embed import Embedder, QueryCache, shared_embedder
from knowledge.ingest import Chunk, Document, card_documents, chunk_document, docs_hash, project_docs
from knowledge.shared_folder import SharedFolder, chroma_systems, forget_system, generation_guard, seen_generation

log = logging.getLogger(__name__)

COLLECTION = "cnaps_knowledge"


class IndexInfo(BaseModel):
    path: str
    documents: int = Field(description="Distinct documents (project docs, models, related papers).")
    passages: int
    embedding_model: str
    content_hash: str
    roles: dict[str, int] = Field(default_factory=dict, description="Passages per role.")


class KnowledgeStore(SharedFolder):
    """Persistent chromadb collection of passages: embedded under `path`, or on the Chroma server at `url` (`path`
    then only names the process-local lock). The caller passes both: `Settings.knowledge_store()` opens the one
    CNAPS_HOME and CNAPS_KNOWLEDGE__URL name. Query vectors are cached in `cache_dir` (default: beside `path`)."""

    def __init__(self, path: Path | str | None = None, embedder: Embedder | None = None,
                 docs: list[Document] | None = None, url: str | None = None,
                 cache_dir: Path | str | None = None) -> None:
        if url is None and path is None:
            raise KnowledgeError("no knowledge store given: pass the index folder or the Chroma server's url "
                                 "(cnaps takes them from CNAPS_HOME and CNAPS_KNOWLEDGE__URL)")
        self.url = url.rstrip("/") if url else None
        self.path = Path(path).expanduser() if path is not None else Path.home() / ".cnaps" / "index"
        self.embedder = embedder or shared_embedder()
        self.docs = project_docs() if docs is None else docs
        self.content_hash = docs_hash(self.docs)
        self._function = MiniLMEmbeddingFunction(self.embedder)
        self._queries = QueryCache(self.embedder, Path(cache_dir) if cache_dir else self.path.parent / "cache")
        self._lock = FileLock(str(self.path.with_name(self.path.name + ".lock")))
        self._generation_file = self.path.with_name(self.path.name + ".generation")
        self._ensured: set[str] = set()
        self._client = None
        self._system = None
        self._collection = None

    # --- opening ---------------------------------------------------------------------------------------

    @property
    def collection(self):
        if self._collection is not None and self.url is None:  # a server shows every process's writes itself
            self._follow_other_writers()
        if self._collection is None:
            self._open()
        return self._collection

    def reopen(self) -> None:
        """Drop this process's chromadb state for the folder and open it again from disk."""
        with self._locked():
            if self.url is None:
                forget_system(self.path)
            self._client = self._system = self._collection = None
            self._ensured.clear()
            self._open()

    def _expected_metadata(self) -> dict[str, str]:
        return {"embedding_model": self.embedder.name, "content_hash": self.content_hash}

    def _open(self) -> None:
        if self.url is not None:
            self._open_server()
            return
        if self.path.exists() and not self.path.is_dir():
            raise KnowledgeError(f"index path {self.path} is a file: remove it or set CNAPS_HOME to another folder")
        # Opening takes the lock too: two processes creating one fresh folder at once make SQLite fail, and that
        # failure must not be mistaken for a damaged index (which would be discarded under the other's feet).
        with self._locked():
            with generation_guard:
                if seen_generation.get(str(self.path)) != self._generation_on_disk():
                    forget_system(self.path)  # a System cached in this process has not seen the latest writes
            collection = self._connect_or_recover()
            metadata = (collection.metadata or {}) if collection is not None else {}
            if collection is None and self._generation_file.exists():
                log.warning("knowledge index at %s is gone (deleted?); rebuilding it", self.path)
            elif collection is None:
                log.info("creating knowledge index at %s", self.path)
            elif any(metadata.get(k) != v for k, v in self._expected_metadata().items()):
                log.warning("knowledge index at %s was built with %s / content %s; rebuilding for %s / %s",
                            self.path, metadata.get("embedding_model"), metadata.get("content_hash"),
                            self.embedder.name, self.content_hash)
            else:
                self._collection = collection
                seen_generation[str(self.path)] = self._generation_on_disk()
                return
            self._collection = self._create(replace=collection is not None)

    def _open_server(self) -> None:
        """The server's collection, rebuilt there when its embedding model or content hash differ from this code's.
        Two processes that rebuild at once both end with a complete collection: the loser of the create reads the
        winner's."""
        collection = self._existing()
        metadata = (collection.metadata or {}) if collection is not None else {}
        if collection is not None and all(metadata.get(k) == v for k, v in self._expected_metadata().items()):
            self._collection = collection
            return
        log.warning("knowledge collection on %s %s; building it for %s / %s", self.url,
                    "is missing" if collection is None else f"was built with {metadata.get('embedding_model')} / "
                    f"content {metadata.get('content_hash')}", self.embedder.name, self.content_hash)
        try:
            self._collection = self._create(replace=collection is not None)
        except KnowledgeError:
            raise
        except Exception as error:  # noqa: BLE001 - chromadb's errors for a name taken meanwhile vary
            again = self._existing()
            if again is None or (again.metadata or {}).get("content_hash") != self.content_hash:
                raise self._server_failure(error) from None
            self._collection = again

    def _existing(self):
        """The collection as it is (None when absent): on the server, or in the folder (a damaged one is discarded;
        call with the lock held)."""
        if self.url is None:
            return self._connect_or_recover()
        try:
            self._client = server_client(self.url)
            return self._get()
        except Exception as error:  # noqa: BLE001 - connection refused, timeouts, HTTP errors
            raise self._server_failure(error) from None

    def _server_failure(self, error: Exception) -> KnowledgeError:
        """The one-line error for a failed call to the server: that it does not answer, or what it said."""
        import httpx

        reason = (str(error).strip().splitlines() or [""])[0][:200]
        down = isinstance(error, (ConnectionError, httpx.TransportError, TimeoutError))
        return KnowledgeError(f"the Chroma server at {self.url} {'does not answer' if down else 'failed'} "
                              f"({type(error).__name__}: {reason}): start it with `chroma run --path DIR --host "
                              "HOST --port PORT` (or check its log), or unset CNAPS_KNOWLEDGE__URL to use the "
                              "embedded store")

    def _connect_or_recover(self):
        """The collection (None when absent); a folder chromadb cannot open is discarded. Call with the lock held."""
        if not (self.path / "chroma.sqlite3").exists():
            forget_system(self.path)  # deleted under a live process: do not answer from the cached System
        try:
            self._connect()
            return self._get()
        except Exception as error:  # noqa: BLE001 - chromadb raises many types for a damaged folder
            log.warning("knowledge index at %s cannot be opened (%s: %s); rebuilding it", self.path,
                        type(error).__name__, error)
        self._discard_folder()
        try:
            self._connect()
            return self._get()
        except Exception as error:  # noqa: BLE001
            raise KnowledgeError(f"cannot create a knowledge index at {self.path} ({type(error).__name__}: "
                                 f"{error}): make the folder writable or set CNAPS_HOME elsewhere") from error

    def _connect(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
        self._system = chroma_systems().get(str(self.path))

    def _get(self):
        try:
            return self._client.get_collection(COLLECTION, embedding_function=self._function)
        except NotFoundError:
            return None

    def _create(self, replace: bool):
        """A fresh collection holding the project documents. Call with the lock held."""
        if replace:
            self._client.delete_collection(COLLECTION)
        self._ensured.clear()
        collection = self._client.create_collection(
            COLLECTION, configuration={"hnsw": {"space": "cosine"}}, metadata=self._expected_metadata(),
            embedding_function=self._function)
        self._add(collection, [chunk for doc in self.docs for chunk in chunk_document(doc)])
        self._wrote()
        return collection

    def _discard_folder(self) -> None:
        """Move a damaged index aside (then delete it) so a fresh one can be created. Call with the lock held."""
        forget_system(self.path)
        self._client = self._system = self._collection = None
        if self.path.exists():
            if any(self.path.iterdir()) and not (self.path / "chroma.sqlite3").exists():
                raise KnowledgeError(f"{self.path} is not a cnaps index and cannot be opened as one: "
                                     "move it away or set CNAPS_HOME to another folder")
            trash = self.path.with_name(f"{self.path.name}.damaged-{time.time_ns()}")
            self.path.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)

    def _add(self, collection, chunks: list[Chunk]) -> None:
        unique = list({chunk.id: chunk for chunk in chunks}.values())
        for start in range(0, len(unique), 64):
            batch = unique[start:start + 64]
            try:
                collection.add(ids=[c.id for c in batch], documents=[c.text for c in batch],
                               metadatas=[c.metadata() for c in batch])
            except KnowledgeError:
                raise
            except Exception as error:  # noqa: BLE001 - chromadb/SQLite write failures share one fix
                if self.url is not None:
                    raise self._server_failure(error) from None
                raise KnowledgeError(f"cannot write to the knowledge index at {self.path} ({type(error).__name__}: "
                                     f"{error}): check free disk space, then run `cnaps index --rebuild`") from error

    def close(self) -> None:
        """Release the chromadb client (its SQLite connection once no other client in this process uses it)."""
        if self._client is not None and self._system is chroma_systems().get(str(self.path)):
            self._client.close()
        self._client = self._system = self._collection = None

    # --- public ----------------------------------------------------------------------------------------

    def ensure(self, card: Card) -> list[Document]:
        """Index the card's documents that are not in the store yet; return all of the card's documents."""
        documents = card_documents(card, self.docs)
        chunks = {chunk.id: chunk for doc in documents for chunk in chunk_document(doc)}
        key = "|".join(sorted(chunks))
        self.collection  # noqa: B018 - follows other processes' writes, which may clear what was ensured
        if key in self._ensured:
            return documents
        missing = self._missing(list(chunks))
        if missing:
            with self._locked():
                missing = self._missing(missing)  # another process may have added them meanwhile
                if missing:
                    self._add(self.collection, [chunks[i] for i in missing])
                    self._wrote()
        self._ensured.add(key)
        return documents

    def _missing(self, ids: list[str]) -> list[str]:
        if not ids:
            return []
        collection = self.collection
        try:
            present = set(collection.get(ids=ids, include=[])["ids"])
        except Exception as error:  # noqa: BLE001
            if self.url is not None:
                raise self._server_failure(error) from None
            raise
        return [i for i in ids if i not in present]

    def rebuild(self) -> IndexInfo:
        """Drop every passage and re-index the project documents (cards are re-added by `ensure`)."""
        with self._locked():
            existing = self._existing()
            self._collection = self._create(replace=existing is not None)
        return self.describe()

    def query(self, texts: list[str], where: dict[str, Any], k: int) -> list[list[tuple[Chunk, float]]]:
        """For each text, the nearest passages among those matching `where`, with cosine similarity in [0, 1].

        All texts are embedded in one batch and sent in one chromadb query (the composer asks about a dozen).
        """
        if not texts:
            return []
        k = max(1, min(int(k), 1000))
        vectors = self._queries.embed(list(texts))
        try:
            result = self.collection.query(query_embeddings=vectors, n_results=k, where=where,
                                           include=["documents", "metadatas", "distances"])
        except KnowledgeError:
            raise
        except Exception as error:  # noqa: BLE001
            if self.url is not None:
                raise self._server_failure(error) from None
            raise KnowledgeError(f"the knowledge index at {self.path} cannot be queried ({type(error).__name__}: "
                                 f"{error}): rebuild it with `cnaps index --rebuild`") from error
        out = []
        for ids, documents, metadatas, distances in zip(result["ids"], result["documents"], result["metadatas"],
                                                        result["distances"]):
            hits = []
            for pid, text, meta, distance in zip(ids, documents, metadatas, distances):
                chunk = Chunk(id=pid, text=text, doc_id=meta["doc_id"], url=meta["url"], title=meta["title"],
                              role=meta["role"], github=meta.get("github", ""))
                hits.append((chunk, min(1.0, max(0.0, 1.0 - float(distance)))))  # cosine distance = 1 - similarity
            out.append(hits)
        return out

    def describe(self) -> IndexInfo:
        """What the index holds: documents, passages, per-role counts, embedding model and content hash."""
        collection = self.collection
        try:
            metadatas = collection.get(include=["metadatas"])["metadatas"]
        except Exception as error:  # noqa: BLE001
            if self.url is not None:
                raise self._server_failure(error) from None
            raise
        roles: dict[str, int] = {}
        for meta in metadatas:
            roles[meta["role"]] = roles.get(meta["role"], 0) + 1
        return IndexInfo(path=self.url or str(self.path), documents=len({m["doc_id"] for m in metadatas}),
                         passages=len(metadatas), embedding_model=collection.metadata["embedding_model"],
                         content_hash=collection.metadata["content_hash"], roles=roles)


def build_index(store: KnowledgeStore, cards: list[Card], rebuild: bool = False) -> IndexInfo:
    """Open (or rebuild) the index and add the cards' documents."""
    if rebuild:
        store.rebuild()
    for card in cards:
        store.ensure(card)
    return store.describe()
