"""Reaching the Ray cluster for the ray backend: importing Ray, joining or starting a cluster, sizing the workers,
and the errors the backend raises when the cluster or a worker fails.

Ray is imported only by `import_ray`, and only when the backend is used (`pip install 'cnaps[scale]'`).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from tools.errors import DeviceError

if TYPE_CHECKING:
    from agent.settings import RaySettings


class WorkerLostError(DeviceError):
    """The Ray worker running a job died or stopped answering; the job failed, the worker is restarted."""


class ClusterError(DeviceError):
    """The Ray cluster cannot be reached or cannot place the workers."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("CNAPS_RESTORE__BACKEND=ray needs Ray: pip install 'cnaps[scale]', or unset "
                           "CNAPS_RESTORE__BACKEND to restore in this process") from None
    return ray


def connect(settings: "RaySettings") -> None:
    """Join the cluster at `settings.address`, or start a local Ray instance; a connection already made in this
    process (a test's fixture, an application's own `ray.init`) is used as it is."""
    if settings.address == "local" and "ray" not in sys.modules:
        # A Ray instance inside this process serves this machine only: loopback, not the outward address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = import_ray()
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
