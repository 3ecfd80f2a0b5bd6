"""Batching on a GPU worker of the ray backend: tiles of the same shape that several images reach at the same time
run as one network call, so the engine's tiling, precision and records stay exactly those of a local run.

Needs no Ray: the worker wraps its restorer's tile forward in `BatchingForward`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

BATCH_WAIT_S = 0.05  # how long a tile waits for same-shaped tiles of the other images in its batch


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
