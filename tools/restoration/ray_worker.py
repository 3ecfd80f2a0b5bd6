"""The ray backend's worker (a Ray actor; a plain object in unit tests) and the jobs it is sent: it holds its
networks in memory and restores images sent to it as bytes, returning the encoded results.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tools.errors import CnapsError
from tools.restoration.batching import BatchingForward
from tools.restoration.ray_cluster import import_ray
from tools.restoration.record import ToolRun

if TYPE_CHECKING:
    from tools.restoration.engine import Restorer

SCRATCH_PREFIX = "cnaps-ray-worker-"


@dataclass(frozen=True)
class JobSpec:
    """What a worker needs to open the restorer: the same arguments as `tools.restore.open_restorer`. Explicit
    weights travel as bytes (`weights_ref`, a one-item list so Ray does not fetch it with every job) and are kept
    by the worker under their SHA-256, so the driver's path need not exist on the worker's machine (or the bytes
    themselves, for a worker in this process)."""

    model_ids: tuple[str, ...]
    fall_back: bool
    device: str | None
    precision: str | None
    tile: str | None
    policy: str = "auto"
    weights_name: str | None = None
    weights_sha256: str | None = None
    weights_ref: list = field(default_factory=list, compare=False, hash=False)

    @property
    def key(self) -> tuple:
        return (self.model_ids, self.fall_back, self.device, self.precision, self.tile, self.weights_sha256)


@dataclass
class ImageJob:
    """One image of a job: its bytes and name, and the suffix (format) of the output the driver will write."""

    name: str
    data: bytes
    output_suffix: str


@dataclass
class WorkerResult:
    record: ToolRun
    data: bytes  # the restored image, encoded for `output_suffix`


class RestoreWorker:
    """Holds opened restorers (each network loaded once per worker) and restores images sent as bytes.

    `batch_on_cpu` lets tests exercise the batched path without a GPU; in service, CPU workers run the images of a
    job one after another (a CPU gains nothing from a batch: its cores are busy with one image already)."""

    def __init__(self, batch_on_cpu: bool = False) -> None:
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._batch_on_cpu = batch_on_cpu
        self._restorers: dict[tuple, tuple["Restorer", str | None]] = {}
        self._opening = threading.Lock()
        _sweep_dead_scratch()
        # Private (0700) and this process's: jobs' files and shipped checkpoints; gone when the worker exits.
        self._scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        atexit.register(shutil.rmtree, self._scratch, True)

    def describe(self) -> dict:
        import torch

        return {"worker": self.name, "cuda": torch.cuda.is_available()}

    def pid(self) -> int:
        return os.getpid()

    def open(self, spec: JobSpec) -> tuple["Restorer", str | None]:
        """The restorer for `spec`, loaded on first use and kept (at most two networks at once, as in-process)."""
        from tools.restore import open_local_restorer

        with self._opening:  # concurrent jobs (a GPU worker's) load one network once, not once each
            if spec.key in self._restorers:
                return self._restorers[spec.key]
            weights = self._weights_file(spec)
            restorer, note = open_local_restorer(list(spec.model_ids), weights=weights, fall_back=spec.fall_back,
                                                 device=spec.device, precision=spec.precision, tile=spec.tile)
            restorer.wrap_forwards(BatchingForward)
            if len(self._restorers) >= 2:
                self._restorers.clear()
            self._restorers[spec.key] = (restorer, note)
            return restorer, note

    def _weights_file(self, spec: JobSpec) -> Path | None:
        if spec.weights_sha256 is None:
            return None  # the worker's own: $CNAPS_WEIGHTS_DIR on its machine, then the project weights
        path = self._scratch / "weights" / spec.weights_sha256 / (spec.weights_name or "weights.safetensors")
        if not path.is_file():
            from tools.atomic import atomic_write

            data = spec.weights_ref[0]
            if not isinstance(data, bytes):  # a Ray object ref (the bytes themselves when the worker is local)
                data = import_ray().get(data)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda stream: stream.write(data))
        return path

    def prepare(self, spec: JobSpec) -> str:
        """Open (load) the restorer now, so a missing checkpoint fails before any image is sent."""
        self.open(spec)
        return self.name

    def restore(self, spec: JobSpec, images: list[ImageJob], scale: int) -> list[WorkerResult | CnapsError]:
        """Restore `images`, returning per image its record and encoded output, or the CnapsError that image failed
        with (a bad file fails alone). On a GPU the images of one size and scale, of this call and of the calls
        running beside it, batch their tiles."""
        restorer, note = self.open(spec)
        batch = restorer.device.type == "cuda" or self._batch_on_cpu
        forward: BatchingForward = restorer.weights_for(scale)[0]

        def one(job: ImageJob) -> WorkerResult | CnapsError:
            with tempfile.TemporaryDirectory(dir=self._scratch) as folder:
                source = Path(folder) / f"input{Path(job.name).suffix}"
                source.write_bytes(job.data)
                target = Path(folder) / f"output{job.output_suffix}"
                try:
                    size = _header_size(job.data) if batch else None
                    with forward.member((size, scale)) if size else nullcontext():
                        run = restorer.run(source, scale=scale, output=target, policy=spec.policy)
                except CnapsError as error:
                    return error
                if note:
                    run.notes.append(note)
                run.backend, run.worker = "ray", self.name
                return WorkerResult(record=run, data=target.read_bytes())

        if not batch or len(images) == 1:
            return [one(job) for job in images]
        with ThreadPoolExecutor(max_workers=len(images), thread_name_prefix="cnaps-batch") as threads:
            return list(threads.map(one, images))


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an encoded image's header, or None when it cannot be read (it then fails alone)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - Pillow raises many types; restorer.run reports the real error
        return None


def _sweep_dead_scratch() -> None:
    """Remove the scratch folders of workers on this machine that were killed (their exit hook never ran)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)  # mkdtemp made it 0700: only its owner can remove it
        except PermissionError:
            pass  # another user's live process
