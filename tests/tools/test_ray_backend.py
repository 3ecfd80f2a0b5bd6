"""The ray restoration backend: a local Ray instance on loopback with two worker actors and the tiny network.

One Ray instance serves the whole module (starting one costs ~6 s on the 2-core machine); each worker reserves
half a CPU. The batching tests need no Ray at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.tools.test_restore_cli import _image, cnaps
from tools.restoration import ray_backend, ray_cluster, ray_pool
from tools.restoration.batching import BatchingForward
from tools.restoration.ray_cluster import WorkerLostError
from tools.restoration.ray_worker import ImageJob, JobSpec, RestoreWorker

# Ray gives a local instance this machine's outward address unless told it is no cluster: loopback only.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="the ray backend needs the `scale` extra (pip install 'cnaps[scale]')")


def _spec(weights: Path, **changes) -> JobSpec:
    data = weights.read_bytes()
    return JobSpec(model_ids=("test-mimo-unet",), fall_back=False, device="cpu", precision="fp32", tile="auto",
                   weights_name=weights.name, weights_sha256=hashlib.sha256(data).hexdigest(), weights_ref=[data],
                   **changes)


# --- batching, without Ray -----------------------------------------------------------------------------------------


def _start_together(forward: BatchingForward, count: int, monkeypatch) -> threading.Barrier:
    """Hold each image at the start of its batch membership until `count` are members: a tiny image restores in
    milliseconds, so without this one could finish before the next has joined."""
    from contextlib import contextmanager

    barrier, joined = threading.Barrier(count, timeout=30), forward.member

    @contextmanager
    def member_then_wait(key):
        with joined(key):
            barrier.wait()
            yield

    monkeypatch.setattr(forward, "member", member_then_wait)
    return barrier


def test_images_of_one_size_run_as_one_batch_with_the_same_pixels_as_alone(tmp_path, tiny_weights, monkeypatch):
    from tools.restoration.engine import Restorer

    paths = [_image(tmp_path / f"in{i}.png", 48, 40, seed=i) for i in range(3)]
    worker = RestoreWorker(batch_on_cpu=True)
    _start_together(worker.open(_spec(tiny_weights))[0].forward, 3, monkeypatch)
    results = worker.restore(_spec(tiny_weights), [ImageJob(p.name, p.read_bytes(), ".png") for p in paths], 1)
    forward = worker.open(_spec(tiny_weights))[0].forward
    assert isinstance(forward, BatchingForward) and max(forward.calls) == 3  # the three images' tiles, one call
    alone = Restorer("test-mimo-unet", weights=tiny_weights, device="cpu", precision="fp32")
    for path, result in zip(paths, results):
        alone.run(path, output=tmp_path / f"alone-{path.name}")
        batched = np.asarray(Image.open(io.BytesIO(result.data)), dtype=np.int16)
        single = np.asarray(Image.open(tmp_path / f"alone-{path.name}"), dtype=np.int16)
        assert np.abs(batched - single).max() <= 1  # float rounding of a batched convolution, at most 1 level
        assert result.record.backend == "ray" and result.record.worker == worker.name


def _concurrently(worker: RestoreWorker, spec: JobSpec, paths: list[Path]) -> list:
    """Each image in its own call, all at once (the calls a GPU worker takes side by side)."""
    results: dict[int, list] = {}
    threads = [threading.Thread(target=lambda i=i, p=p: results.__setitem__(
        i, worker.restore(spec, [ImageJob(p.name, p.read_bytes(), ".png")], 1))) for i, p in enumerate(paths)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return [results[i][0] for i in range(len(paths))]


def test_calls_running_side_by_side_batch_images_of_one_size_only(tmp_path, tiny_weights, monkeypatch):
    worker, spec = RestoreWorker(batch_on_cpu=True), _spec(tiny_weights)
    forward = worker.open(spec)[0].forward
    both_in = _start_together(forward, 2, monkeypatch)
    same = [_image(tmp_path / f"same{i}.png", 64, 48, seed=i) for i in range(2)]
    assert all(r.record.output_size == (64, 48) for r in _concurrently(worker, spec, same))
    assert 2 in forward.calls  # the two calls' tiles ran as one batch
    forward.calls.clear()
    both_in.reset()
    mixed = [_image(tmp_path / "a.png", 64, 48), _image(tmp_path / "b.png", 48, 64)]
    started = time.monotonic()
    assert [r.record.output_size for r in _concurrently(worker, spec, mixed)] == [(64, 48), (48, 64)]
    assert set(forward.calls) == {1} and time.monotonic() - started < 5  # other sizes never wait for each other


def test_a_bad_image_in_a_batch_fails_alone(tmp_path, tiny_weights):
    good = _image(tmp_path / "good.png", 48, 40)
    worker = RestoreWorker(batch_on_cpu=True)
    jobs = [ImageJob("good.png", good.read_bytes(), ".png"), ImageJob("bad.png", b"\x89PNG broken", ".png"),
            ImageJob("good2.png", good.read_bytes(), ".png")]
    results = worker.restore(_spec(tiny_weights), jobs, 1)
    from agent.errors import ImageError

    assert isinstance(results[1], ImageError)
    assert [type(r).__name__ for r in (results[0], results[2])] == ["WorkerResult", "WorkerResult"]


def test_a_worker_loads_each_network_once(tmp_path, tiny_weights, monkeypatch):
    import tools.restore

    opened = []
    real = tools.restore.open_local_restorer
    monkeypatch.setattr(tools.restore, "open_local_restorer", lambda *a, **k: opened.append(1) or real(*a, **k))
    worker = RestoreWorker()
    source = _image(tmp_path / "in.png")
    for _ in range(3):
        worker.restore(_spec(tiny_weights), [ImageJob("in.png", source.read_bytes(), ".png")], 1)
    assert len(opened) == 1


def test_a_job_lost_with_its_worker_skips_that_file_and_the_folder_goes_on(tmp_path, tiny_weights):
    from tools.restoration.engine import Restorer
    from tools.restore import BatchPlan, restore_files

    local = Restorer("test-mimo-unet", weights=tiny_weights, device="cpu")

    class OneWorkerDies(ray_backend.RayRestorer):
        def run_all(self, pairs, scale, overwrite=False, progress=None):
            for index, (source, target) in enumerate(pairs):
                yield (WorkerLostError("the Ray worker running this restoration died") if index == 1
                       else local.run(source, scale=scale, output=target))

    pairs = [(_image(tmp_path / f"{i}.png", seed=i), tmp_path / "out" / f"{i}.png") for i in range(3)]
    (tmp_path / "out").mkdir()
    plan = BatchPlan(pairs=pairs, restorer=OneWorkerDies.__new__(OneWorkerDies), stand_in=None)
    results = list(restore_files(plan, 1))
    assert [r.skipped is not None for r in results] == [False, True, False]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "2.png"]


@pytest.mark.parametrize("gpus, workers, worker_gpus, shape", [
    (0, 0, None, (1, 0.0)),  # no GPUs: one CPU worker, asking for none
    (4, 0, None, (4, 1.0)),  # one worker per GPU, a whole GPU each
    (1, 2, None, (2, 0.5)),  # more workers than GPUs: an equal share each
    (8, 2, None, (2, 1.0)),
    (2, 3, 0.25, (3, 0.25)),  # the setting wins
])
def test_workers_ask_for_gpus_when_the_cluster_has_them(gpus, workers, worker_gpus, shape):
    from agent.settings import RaySettings

    assert ray_cluster.worker_shape(gpus, RaySettings(workers=workers, worker_gpus=worker_gpus)) == shape


def test_a_cluster_address_where_nothing_listens_is_a_one_line_error_at_once():
    from agent.settings import RaySettings

    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ray_cluster.ClusterError) as caught:
        ray_pool.RayPool(RaySettings(address=f"127.0.0.1:{port}"))
    assert time.monotonic() - started < 10 and "\n" not in str(caught.value)
    assert "CNAPS_RAY__ADDRESS" in str(caught.value)  # the fix names the setting to change


# --- a local Ray instance with two workers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    from agent.settings import RaySettings

    temp = tempfile.mkdtemp(prefix="cnaps-ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False, configure_logging=False)
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    try:
        ray_pool._pool = ray_pool.RayPool(RaySettings(workers=2, worker_cpus=0.5, timeout=60))
        yield ray_pool._pool
    finally:
        ray_pool.shutdown_pool()
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def on_ray(pool, monkeypatch):
    from agent.settings import get_settings

    monkeypatch.setenv("CNAPS_RESTORE__BACKEND", "ray")
    get_settings.cache_clear()
    return pool


def _live_workers(pool) -> set[str]:
    """host:pid of the pool's workers now (a restarted worker has a new pid)."""
    return {f"{socket.gethostname()}:{pid}" for pid in ray.get([a.pid.remote() for a in pool._actors])}


@pytest.mark.slow
def test_a_folder_is_restored_by_both_workers_with_the_pixels_of_a_local_run(tmp_path, monkeypatch, capsys,
                                                                            tiny_weights, on_ray):
    folder, out, local = tmp_path / "in", tmp_path / "out", tmp_path / "local"
    folder.mkdir()
    for i in range(4):
        _image(folder / f"{i}.png", 96, 64, seed=i)
    tiny = ["--model", "test-mimo-unet", "--weights", tiny_weights, "--device", "cpu", "--format", "json"]
    code, stdout, err = cnaps(monkeypatch, capsys, "restore", folder, out, *tiny)
    assert code == 0, err
    records = [item["record"] for item in json.loads(stdout)]
    assert {r["backend"] for r in records} == {"ray"}
    assert {r["worker"] for r in records} == _live_workers(on_ray)  # both workers took jobs
    assert [Path(r["input_path"]).name for r in records] == [f"{i}.png" for i in range(4)]
    code, text, err = cnaps(monkeypatch, capsys, "restore", folder / "0.png", tmp_path / "one.png", *tiny[:-2])
    assert code == 0 and any(worker in text for worker in _live_workers(on_ray)), err  # the text record too

    monkeypatch.setenv("CNAPS_RESTORE__BACKEND", "local")
    from agent.settings import get_settings

    get_settings.cache_clear()
    assert cnaps(monkeypatch, capsys, "restore", folder, local, *tiny)[0] == 0
    for i in range(4):
        assert np.array_equal(np.asarray(Image.open(out / f"{i}.png")), np.asarray(Image.open(local / f"{i}.png")))


def test_errors_from_the_worker_and_the_image_check_reach_the_caller_as_themselves(tmp_path, tiny_weights, on_ray):
    from agent.errors import ImageError, UsageError
    from tools.restore import open_restorer

    with pytest.raises(UsageError):  # raised by the worker as it opens the restorer
        open_restorer(["no-such-model"], weights=tiny_weights, fall_back=False, device="cpu")
    restorer, _ = open_restorer(["test-mimo-unet"], weights=tiny_weights, fall_back=False, device="cpu")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG broken")
    with pytest.raises(ImageError):
        restorer.run(broken, output=tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.slow
def test_a_worker_killed_mid_job_fails_that_job_and_the_next_job_runs(tmp_path, tiny_weights, on_ray):
    from tools.restore import open_restorer

    pids = dict(zip([id(a) for a in on_ray._actors], ray.get([a.pid.remote() for a in on_ray._actors])))
    restorer, _ = open_restorer(["test-mimo-unet"], weights=tiny_weights, fall_back=False, device="cpu")
    big = _image(tmp_path / "big.png", 1536, 1536)  # ~3 s on half a core with the tiny network
    target = tmp_path / "out" / "big.png"
    outcome: dict = {}

    def job() -> None:
        try:
            outcome["run"] = restorer.run(big, output=target)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error

    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.monotonic() + 10
    while on_ray._idle.qsize() == on_ray.slots and time.monotonic() < deadline:  # until a worker took it
        time.sleep(0.02)
    busy = [a for a in on_ray._actors if a not in list(on_ray._idle.queue)]
    assert len(busy) == 1
    time.sleep(0.8)  # well inside the job
    os.kill(pids[id(busy[0])], signal.SIGKILL)
    worker.join(timeout=30)

    error = outcome.get("error")
    assert isinstance(error, WorkerLostError), outcome
    assert "\n" not in str(error) and "died" in str(error)
    assert not target.exists() and not any((tmp_path / "out").glob("*"))  # nothing partial was left behind

    small = _image(tmp_path / "small.png")
    for attempt in range(2):  # the next jobs run, on the live worker and on the restarted one
        run = restorer.run(small, output=tmp_path / f"next{attempt}.png")
        assert run.backend == "ray" and Image.open(run.image_path).size == (40, 30)


@pytest.mark.slow
def test_the_web_app_sends_restorations_to_the_cluster_and_sizes_its_queue_by_it(tmp_path, tiny_weights, on_ray,
                                                                                 shared_cards):
    from fastapi.testclient import TestClient

    from agent.web.app import create_app

    app = create_app(ask_options={"model": "test-mimo-unet", "weights": tiny_weights, "llm": "none",
                                  "device": "cpu"})
    server = app.state.server
    assert server.restore_pool.workers == on_ray.slots == 2  # a full cluster fills the pool: the 429 of a local run
    buffer = io.BytesIO()
    Image.open(_image(tmp_path / "photo.png", 64, 48)).save(buffer, format="PNG")
    with TestClient(app) as client:
        response = client.post("/api/ask", files={"image": ("photo.png", buffer.getvalue(), "image/png")},
                               data={"question": "Deblur this photo please", "scale": "1"})
        assert response.status_code == 200, response.text
        run = response.json()["restoration"]
        assert run["backend"] == "ray" and run["worker"] in _live_workers(on_ray)
        restored = Image.open(io.BytesIO(client.get(run["image_url"]).content))
        assert restored.size == (64, 48)
