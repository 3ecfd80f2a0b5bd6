"""The ray backend's pool of worker actors, shared by the process, and the weights it ships to them.

A worker that dies mid-job (killed, out of memory, its node gone) fails that job with `WorkerLostError`; Ray
restarts the actor, and the next job runs.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.errors import CnapsError
from tools.restoration.ray_cluster import ClusterError, WorkerLostError, connect, import_ray, worker_shape
from tools.restoration.ray_worker import RestoreWorker

if TYPE_CHECKING:
    from agent.settings import RaySettings

PLACEMENT_TIMEOUT_S = 60.0  # workers the cluster cannot place within this are a configuration error, not a wait


class RayPool:
    """`size` worker actors, each taking `concurrency` jobs at once (CNAPS_RAY__BATCH_SIZE on a GPU, so that its
    jobs' images of one size batch; 1 on a CPU), and a queue of the free slots; `call` runs one job in a free slot,
    waiting for one. `slots` is how many jobs the pool runs at once."""

    def __init__(self, settings: "RaySettings") -> None:
        connect(settings)
        ray = import_ray()
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
        ray = import_ray()
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
        ray = import_ray()
        for handle in self._actors:
            try:
                ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone, or Ray shut down first
                pass
        self._actors = []


_shipped: dict[tuple[str, int, int], tuple[str, Any]] = {}  # weights file (path, size, mtime) -> (sha256, object ref)


def shipped_weights(path: Path) -> tuple[str, Any]:
    """The file's SHA-256 and its bytes in the Ray object store, put there once per version of the file (a web app
    with --weights would otherwise hash and send the checkpoint with every request)."""
    stat = path.stat()  # open_restorer's callers checked the file exists
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _pool_lock:
        if key not in _shipped:
            data = path.read_bytes()
            _shipped.clear()  # one checkpoint at a time: an older version's bytes are no longer sent
            _shipped[key] = (hashlib.sha256(data).hexdigest(), import_ray().put(data))
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
