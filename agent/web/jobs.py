"""A bounded pool for restoration work: `workers` jobs run at once, `queue_size` more may wait, the rest get 429.

Restoration takes seconds to minutes on a CPU; an unbounded queue would let a burst of uploads pin the machine
for an hour and hold every upload in memory. Callers submit a function and get a `concurrent.futures.Future`.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

from agent.errors import BusyError, CnapsError

T = TypeVar("T")


class JobTimeoutError(CnapsError):
    """A job ran past the server's deadline (CNAPS_SERVER__JOB_TIMEOUT)."""

    http_status = 503


class Deadline:
    """The moment a job must end by. `check()` raises once it has passed; the job calls it at every progress step
    (tiles, tokens) and before storing its answer, so no job outlives the deadline by more than one step."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise JobTimeoutError(f"the answer took longer than this server allows ({self.seconds:g} s): send a "
                                  "smaller image or a lower scale, or its operator can raise CNAPS_SERVER__JOB_TIMEOUT")


class WorkerPool:
    """Runs jobs on `workers` threads with at most `queue_size` jobs waiting; `submit` refuses beyond that."""

    def __init__(self, workers: int, queue_size: int, name: str = "cnaps-job") -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue_size)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._pending = 0
        self._recent_seconds: list[float] = []

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        with self._lock:
            return self._pending

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the queue's length times the typical job time, at least 1."""
        with self._lock:
            typical = sum(self._recent_seconds) / len(self._recent_seconds) if self._recent_seconds else 5.0
            waiting = max(1, self._pending - self.workers + 1)
        return max(1, math.ceil(typical * waiting / self.workers))

    def submit(self, fn: Callable[..., T], *args: object, **kwargs: object) -> Future[T]:
        """Queue `fn(*args, **kwargs)`; raises BusyError (HTTP 429) when `capacity` jobs are already pending."""
        with self._lock:
            full = self._pending >= self.capacity
            if not full:
                self._pending += 1
        if full:
            wait = self.retry_after()
            error = BusyError(f"the server has {self.capacity} jobs running or waiting: retry in about {wait} s")
            error.retry_after = wait  # the web app sends it as the Retry-After header
            raise error
        started = time.perf_counter()

        def timed() -> T:
            nonlocal started
            started = time.perf_counter()
            return fn(*args, **kwargs)

        try:
            future = self._executor.submit(timed)
        except RuntimeError:  # the executor was shut down
            self._release(None)
            raise BusyError("the server is shutting down: retry in a few seconds") from None
        future.add_done_callback(lambda _: self._release(time.perf_counter() - started))
        return future

    def _release(self, seconds: float | None) -> None:
        with self._lock:
            self._pending -= 1
            if seconds is not None:
                self._recent_seconds = (self._recent_seconds + [seconds])[-20:]

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
