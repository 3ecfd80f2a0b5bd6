"""Restorations on a Ray cluster (CNAPS_RESTORE__BACKEND=ray): a fixed set of worker actors, each holding its
networks in memory, fed by the web app and by `cnaps restore FOLDER`.

The driver (the web app or the CLI) never loads a network. It sends each job's image bytes to an idle worker and
writes the bytes that come back into the run folder atomically, so a worker may live on another machine and a
result is either whole or absent. A worker that dies mid-job (killed, out of memory, its node gone) fails that job
with `WorkerLostError`; Ray restarts the actor, and the next job runs. Images of one size sent together (a folder)
run as one batch on a GPU worker: `BatchingForward` stacks the tiles of the same shape that several images reach at
the same time, so the engine's tiling, precision and records stay exactly those of a local run.

The pieces: `ray_cluster` (reaching Ray, sizing the workers, the errors), `ray_pool` (the worker actors and the
weights shipped to them), `ray_worker` (the actor and its jobs), `batching` (tiles of several images in one call).
Ray is imported only by `ray_cluster.import_ray`, and only when the backend is used (`pip install 'cnaps[scale]'`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools.errors import CnapsError, DeviceError, InputFileError
from tools.restoration.ray_pool import RayPool, shared_pool, shipped_weights  # shared_pool: agent/web/app.py's too
from tools.restoration.ray_worker import ImageJob, JobSpec, WorkerResult
from tools.restoration.record import ToolRun


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
            sha256, ref = shipped_weights(path)
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
