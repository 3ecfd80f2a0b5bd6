"""Restorations on a Ray cluster (CNAPS_RESTORE__BACKEND=ray): a fixed set of worker actors, each holding its
networks in memory, fed by the web app and by `cnaps restore FOLDER`.

The driver (the web app or the CLI) never loads a network. It sends each job's image bytes to an idle worker and
writes the bytes that come back into the run folder atomically, so a worker may live on another machine and a
result is either whole or absent. A worker that dies mid-job (killed, out of memory, its node gone) fails that job
with `WorkerLostError`; Ray restarts the actor, and the next job runs. Images of one size sent together (a folder)
run as one batch on a GPU worker: `BatchingForward` stacks the tiles of the same shape that several images reach at
the same time, so the engine's tiling, precision and records stay exactly those of a local run.

Ray is imported only here and only when the backend is used (`pip install 'cnaps[scale]'`).
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import queue
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.errors import CnapsError, DeviceError, InputFileError
from tools.restoration.record import ToolRun

if TYPE_CHECKING:
    import torch

    from agent.settings import RaySettings
    from tools.restoration.engine import Restorer

SCRATCH_PREFIX = "cnaps-ray-worker-"
PLACEMENT_TIMEOUT_S = 60.0  # workers the cluster cannot place within this are a configuration error, not a wait
BATCH_WAIT_S = 0.05  # how long a tile waits for same-shaped tiles of the other images in its batch


class WorkerLostError(DeviceError):
    """The Ray worker running a job died or stopped answering; the job failed, the worker is restarted."""


class ClusterError(DeviceError):
    """The Ray cluster cannot be reached or cannot place the workers."""


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("CNAPS_RESTORE__BACKEND=ray needs Ray: pip install 'cnaps[scale]', or unset "
                           "CNAPS_RESTORE__BACKEND to restore in this process") from None
    return ray


# --- batching on the worker ---------------------------------------------------------------------------------------


@dataclass
class _Slot:
    x: "torch.Tensor"
    result: "torch.Tensor | None" = None
    error: BaseException | None = None
    done: bool = False


class BatchingForward:
    """Wraps the engine's tile forward: (1, 3, h, w) tiles that several images of one size and scale (one thread
    each, inside `member`) hand in together run as one (B, 3, h, w) call. Such images have the same grid, so their
    k-th tiles meet here. A tile whose partners do not come within `wait_s` runs with those that did, and its image
    stops waiting (its partners are out of step): at most one wait lost per image, never one per tile."""

    def __init__(self, forward: Callable[["torch.Tensor"], "torch.Tensor"], wait_s: float = BATCH_WAIT_S) -> None:
        self._forward = forward
        self._wait_s = wait_s
        self._cond = threading.Condition()
        self._members: Counter = Counter()  # images running now, by (size, scale)
        self._pending: dict[tuple, list[_Slot]] = {}
        self._thread = threading.local()  # this thread's image: its key, and whether it stopped waiting
        self.calls: deque[int] = deque(maxlen=1000)  # batch sizes of the latest network calls (tests read them)

    def __getattr__(self, name: str) -> Any:  # model, start_run, fell_back: the wrapped forward's
        return getattr(self._forward, name)

    @contextmanager
    def member(self, key: Hashable) -> Iterator[None]:
        """One image runs inside this block; `key` (its size and scale) says which images it may batch with."""
        with self._cond:
            self._members[key] += 1
        self._thread.key, self._thread.solo = key, False
        try:
            yield
        finally:
            self._thread.key = None
            with self._cond:
                self._members[key] -= 1
                self._cond.notify_all()  # waiting tiles need not wait for an image that finished or failed

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch

        member = getattr(self._thread, "key", None)
        key = (member, tuple(x.shape))
        slot = _Slot(x)
        group = None
        with self._cond:
            if member is not None and not self._thread.solo and self._members[member] > 1:
                group = self._pending.setdefault(key, [])
                group.append(slot)
                deadline = time.monotonic() + self._wait_s
                while not slot.done:
                    waiting = self._pending.get(key) is group  # not yet taken by a partner
                    late = time.monotonic() >= deadline
                    if waiting and (len(group) >= self._members[member] or late):
                        del self._pending[key]  # this thread runs the group
                        self._thread.solo = late and len(group) < self._members[member]
                        break
                    self._cond.wait(timeout=max(0.001, deadline - time.monotonic()) if waiting else None)
        if group is None:
            self.calls.append(1)
            return self._forward(x)
        if not slot.done:  # this thread runs the group
            try:
                self.calls.append(len(group))
                out = self._forward(torch.cat([s.x for s in group]))  # (B, 3, h, w)
                for index, partner in enumerate(group):
                    partner.result = out[index:index + 1]
            except BaseException as error:  # e.g. CUDA out of memory: every image retries with smaller tiles
                for partner in group:
                    partner.error = error
            with self._cond:
                for partner in group:
                    partner.done = True
                self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result


# --- the worker (a Ray actor; a plain object in unit tests) -------------------------------------------------------


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
            restorer.forward = BatchingForward(restorer.forward)
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
                data = _ray().get(data)
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
        forward: BatchingForward = restorer.forward

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


# --- the driver -------------------------------------------------------------------------------------------------


def connect(settings: "RaySettings") -> None:
    """Join the cluster at `settings.address`, or start a local Ray instance; a connection already made in this
    process (a test's fixture, an application's own `ray.init`) is used as it is."""
    if settings.address == "local" and "ray" not in sys.modules:
        # A Ray instance inside this process serves this machine only: loopback, not the outward address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = _ray()
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if settings.address == "local":
            ray.init(num_cpus=settings.local_cpus, **options)
        else:
            _check_reachable(settings.address)  # ray.init waits minutes on an address where nothing listens
            ray.init(address=settings.address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ClusterError(f"cannot reach the Ray cluster at {settings.address} ({first[:200]}): start it with "
                           "`ray start --head --port 6379`, or set CNAPS_RAY__ADDRESS=local") from None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse at once an address (host:port or ray://host:port) that nothing answers on."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"CNAPS_RAY__ADDRESS={address!r} is not host:port: give the head node's address (e.g. "
                           "10.0.0.5:6379) or 'local'")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(error.strerror or type(error).__name__) from None


def worker_shape(cluster_gpus: float, settings: "RaySettings") -> tuple[int, float]:
    """(workers, GPUs each asks for): CNAPS_RAY__WORKERS or one per GPU (one without GPUs); CNAPS_RAY__WORKER_GPUS
    or a whole GPU each when there are enough, else an equal share (several workers on one GPU), 0 without GPUs."""
    workers = settings.workers or max(1, int(cluster_gpus))
    if settings.worker_gpus is not None:
        return workers, settings.worker_gpus
    return workers, 1.0 if cluster_gpus >= workers else round(cluster_gpus / workers, 3)


class RayPool:
    """`size` worker actors, each taking `concurrency` jobs at once (CNAPS_RAY__BATCH_SIZE on a GPU, so that its
    jobs' images of one size batch; 1 on a CPU), and a queue of the free slots; `call` runs one job in a free slot,
    waiting for one. `slots` is how many jobs the pool runs at once."""

    def __init__(self, settings: "RaySettings") -> None:
        connect(settings)
        ray = _ray()
        self.size, per_worker = worker_shape(float(ray.cluster_resources().get("GPU", 0)), settings)
        self.gpus_per_worker = per_worker
        self.concurrency = settings.batch_size if per_worker > 0 else 1
        self.slots = self.size * self.concurrency
        self.timeout = settings.timeout
        actor = ray.remote(RestoreWorker).options(
            num_cpus=settings.worker_cpus, num_gpus=per_worker, max_concurrency=self.concurrency,
            max_restarts=-1,  # a dead worker comes back (loading its network again on first use) ...
            max_task_retries=0)  # ... but the job it was running fails: rerunning could kill the next one too
        self._actors = [actor.remote() for _ in range(self.size)]
        try:
            described = ray.get([a.describe.remote() for a in self._actors], timeout=PLACEMENT_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            self.shutdown()
            have = ray.cluster_resources()
            raise ClusterError(f"the Ray cluster could not place {self.size} workers of {settings.worker_cpus:g} CPU "
                               f"and {per_worker:g} GPU within {PLACEMENT_TIMEOUT_S:.0f} s (it has "
                               f"{have.get('CPU', 0):g} CPU, {have.get('GPU', 0):g} GPU): lower CNAPS_RAY__WORKERS "
                               "or CNAPS_RAY__WORKER_CPUS, or add nodes") from None
        self.workers = [item["worker"] for item in described]
        self._idle: queue.Queue = queue.Queue()
        for _ in range(self.concurrency):  # round robin: every worker gets a job before any gets two
            for handle in self._actors:
                self._idle.put(handle)

    def call(self, method: str, *args: Any) -> Any:
        """Run `method(*args)` on an idle worker. A worker that dies meanwhile is a WorkerLostError (Ray restarts
        it); a job past CNAPS_RAY__TIMEOUT restarts its worker and fails the same way."""
        ray = _ray()
        handle = self._idle.get()
        try:
            ref = getattr(handle, method).remote(*args)
            try:
                return ray.get(ref, timeout=self.timeout)
            except ray.exceptions.RayTaskError as error:
                if isinstance(error.cause, CnapsError):
                    raise error.cause from None
                raise
            except ray.exceptions.GetTimeoutError:
                ray.kill(handle, no_restart=False)
                raise WorkerLostError(f"the restoration took more than {self.timeout:g} s on its Ray worker, which "
                                      "was restarted: send a smaller image, or raise CNAPS_RAY__TIMEOUT") from None
            except ray.exceptions.RayActorError as error:  # ActorDiedError, ActorUnavailableError
                raise WorkerLostError(f"the Ray worker running this restoration died ({type(error).__name__}: its "
                                      "process was killed or crashed, or its node left the cluster) and is being "
                                      "restarted: send the image again") from None
        finally:
            self._idle.put(handle)

    def shutdown(self) -> None:
        ray = _ray()
        for handle in self._actors:
            try:
                ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone, or Ray shut down first
                pass
        self._actors = []


_shipped: dict[tuple[str, int, int], tuple[str, Any]] = {}  # weights file (path, size, mtime) -> (sha256, object ref)


def _shipped_weights(path: Path) -> tuple[str, Any]:
    """The file's SHA-256 and its bytes in the Ray object store, put there once per version of the file (a web app
    with --weights would otherwise hash and send the checkpoint with every request)."""
    stat = path.stat()  # open_restorer's callers checked the file exists
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _pool_lock:
        if key not in _shipped:
            data = path.read_bytes()
            _shipped.clear()  # one checkpoint at a time: an older version's bytes are no longer sent
            _shipped[key] = (hashlib.sha256(data).hexdigest(), _ray().put(data))
        return _shipped[key]


_pool: RayPool | None = None
_pool_lock = threading.Lock()


def shared_pool() -> RayPool:
    """The process's pool, made on first use from the settings (CNAPS_RAY__*)."""
    global _pool
    from agent.settings import get_settings

    with _pool_lock:
        if _pool is None:
            _pool = RayPool(get_settings().ray)
        return _pool


def shutdown_pool() -> None:
    """Kill this process's workers (tests, server shutdown); the Ray connection itself is left to its owner."""
    global _pool
    with _pool_lock:
        _shipped.clear()
        if _pool is not None:
            _pool.shutdown()
            _pool = None


class RayRestorer:
    """Driver-side stand-in for `engine.Restorer`: the same `run`, done by a worker of `pool`."""

    def __init__(self, spec: JobSpec, pool: RayPool, worker: str) -> None:
        self.spec = spec
        self.pool = pool
        self.prepared_on = worker

    @classmethod
    def open(cls, model_ids: list[str], weights: Path | str | None, fall_back: bool, device: str | None,
             precision: str | None, tile: str | None, policy: str = "auto") -> "RayRestorer":
        """Check and load the restorer on one worker now (a missing checkpoint fails before any work)."""
        pool = shared_pool()
        extra: dict[str, Any] = {}
        if weights is not None:
            path = Path(weights).expanduser()
            sha256, ref = _shipped_weights(path)
            extra = {"weights_name": path.name, "weights_sha256": sha256, "weights_ref": [ref]}
        spec = JobSpec(model_ids=tuple(model_ids), fall_back=fall_back, device=device, precision=precision,
                       tile=tile, policy=policy, **extra)
        return cls(spec, pool, pool.call("prepare", spec))

    def run(self, image: str | Path, scale: int = 1, output: str | Path | None = None, overwrite: bool = False,
            progress: Callable[[int, int], None] | None = None) -> ToolRun:
        """Restore the image file `image` on a worker and write the result to `output` atomically."""
        if output is None:
            raise InputFileError("the ray backend writes every result to a file: pass an output path")
        outcome = next(self.run_all([(Path(image), Path(output))], scale, overwrite, progress))
        if isinstance(outcome, CnapsError):
            raise outcome
        return outcome

    def run_all(self, pairs: list[tuple[Path, Path]], scale: int, overwrite: bool = False,
                progress: Callable[[int, int], None] | None = None) -> Iterator[ToolRun | CnapsError]:
        """Restore every (input, output) pair on the pool, every slot at once, images of one size sent together (a
        GPU worker batches them); yield each pair's record (or the error it failed with) in the order of `pairs`.
        A file is read only as its job is sent, so a large folder never sits in memory."""
        from tools.restoration.imageio import check_image_file, check_output

        outcomes: dict[int, ToolRun | CnapsError] = {}
        order: list[tuple[tuple[int, int], int]] = []
        for index, (source, target) in enumerate(pairs):
            try:
                check_output(target, overwrite, source)  # before any work is sent
                order.append((check_image_file(source, _max_pixels()), index))  # the pixel limit, as locally
            except CnapsError as error:
                outcomes[index] = error
        order.sort()
        done = threading.Condition()

        def send(index: int) -> None:
            source, target = pairs[index]
            try:
                job = ImageJob(source.name, source.read_bytes(), target.suffix)
                result = self.pool.call("restore", self.spec, [job], scale)[0]
            except CnapsError as error:
                result = error
            except OSError as error:
                result = InputFileError(f"cannot read {source} ({error.strerror}): check the file")
            except BaseException as error:  # noqa: BLE001 - a bug on the worker: its own record, not a hang here
                result = DeviceError(f"the Ray worker failed ({type(error).__name__}): see the worker's log")
            landed = self._land(result, pairs[index], overwrite)
            with done:
                outcomes[index] = landed
                done.notify_all()

        threads = ThreadPoolExecutor(max_workers=self.pool.slots, thread_name_prefix="cnaps-ray")
        try:
            for _, index in order:
                threads.submit(send, index)
            for index in range(len(pairs)):
                with done:
                    while index not in outcomes:
                        done.wait()
                if progress:
                    progress(index + 1, len(pairs))
                yield outcomes[index]
        finally:
            threads.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _land(result: WorkerResult | CnapsError, pair: tuple[Path, Path], overwrite: bool) -> ToolRun | CnapsError:
        """Write a worker's output to its place (atomically: never a partial file) and fix its record's paths."""
        from tools.atomic import atomic_write

        if isinstance(result, CnapsError):
            return result
        source, target = pair
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda stream: stream.write(result.data), replace=overwrite)
        except CnapsError as error:
            return error
        except OSError as error:
            from tools.errors import OutputError

            return OutputError(f"cannot write {target} ({error.strerror}): choose a writable folder")
        return result.record.model_copy(update={"input_path": str(source), "image_path": str(target)})


def _max_pixels() -> int:
    from agent.settings import get_settings

    return get_settings().restore.max_pixels
