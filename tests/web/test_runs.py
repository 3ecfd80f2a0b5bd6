"""Run folders: the oldest finished runs go once there are more than the server keeps; live runs stay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from agent.web.runs import RunStore


def test_oldest_finished_runs_are_pruned_and_unfinished_ones_kept(tmp_path):
    store = RunStore(tmp_path / "web", keep=2)
    finished = []
    for age in (400, 300, 200, 100):
        run_id, folder = store.create()
        (folder / "run.json").write_text("{}")
        os.utime(folder / "run.json", (1_700_000_000 - age, 1_700_000_000 - age))
        finished.append(folder)
    unfinished_id, unfinished = store.create()  # still being answered: no run.json yet
    stranger = tmp_path / "web" / "not-a-run"
    stranger.mkdir()
    (stranger / "run.json").write_text("{}")

    assert store.prune() == 0  # create() already pruned down to the two newest finished runs
    assert [folder.exists() for folder in finished] == [False, False, True, True]
    assert unfinished.is_dir() and stranger.is_dir()
    assert store.folder(unfinished_id) == unfinished


def test_workers_pruning_at_once_never_fail_and_leave_the_newest(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    store = RunStore(tmp_path / "web", keep=100)
    for age in range(40):
        _, folder = store.create()
        (folder / "run.json").write_text("{}")
        os.utime(folder / "run.json", (1_700_000_000 + age, 1_700_000_000 + age))
    newest = sorted(store.root.iterdir(), key=lambda f: (f / "run.json").stat().st_mtime)[-3:]
    store.keep = 3
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: store.prune(), range(16)))  # raised FileNotFoundError before the lock
    assert sorted(store.root.iterdir()) == sorted(newest)


def test_an_unfinished_run_is_pruned_only_once_older_than_the_longest_job(tmp_path):
    store = RunStore(tmp_path / "web", keep=200, job_timeout=600)
    _, live = store.create()  # no run.json, just started
    _, dead = store.create()
    (dead / "input.png").write_bytes(b"upload")
    old = time.time() - 601
    os.utime(dead, (old, old))
    _, finished = store.create()
    (finished / "run.json").write_text("{}")
    os.utime(finished, (old, old))
    store.prune()
    assert not dead.exists()
    assert live.is_dir() and finished.is_dir()


_SERVER = """
import sys, time
import uvicorn
from agent.web.app import create_app

def ask(card, image=None, progress=None, **options):
    print("job started", flush=True)
    time.sleep(120)  # killed long before it answers

uvicorn.run(create_app(ask_fn=ask), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def test_a_server_killed_mid_job_leaks_its_run_only_until_the_longest_job_has_passed(tmp_path):
    from tests.web.scripted import blurry_png
    from tests.web.test_serve import REPO, free_port

    port = free_port()
    env = {**os.environ, "CNAPS_HOME": str(tmp_path), "PYTHONPATH": str(REPO), "CNAPS_SERVER__JOB_TIMEOUT": "600"}
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = tmp_path / "outputs" / "web"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1][-800:]
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer within 90 s"
                time.sleep(0.2)
        poster = threading.Thread(target=_post_quietly, args=(f"http://127.0.0.1:{port}/api/ask", blurry_png()),
                                  daemon=True)
        poster.start()
        assert server.stdout.readline().strip() == "job started"  # the upload is in its run folder now
        [orphan] = list(root.iterdir())
        assert (orphan / "input.png").is_file()
    finally:
        server.send_signal(signal.SIGKILL)  # no shutdown handler runs
        server.communicate(timeout=20)
    assert server.returncode == -signal.SIGKILL
    assert not (orphan / "run.json").exists()

    store = RunStore(root, keep=200, job_timeout=600)
    store.prune()
    assert orphan.is_dir()  # it might still be a job of a live server on the same folder
    old = time.time() - 601
    os.utime(orphan, (old, old))
    store.prune()
    assert not orphan.exists()


def _post_quietly(url: str, image: bytes) -> None:
    try:
        httpx.post(url, files={"image": ("photo.png", image, "image/png")}, timeout=60)
    except httpx.HTTPError:
        pass  # the server is killed under it


def test_a_job_past_its_deadline_fails_and_leaves_no_run_folder(make_client, scripted, tmp_path):
    from tests.web.scripted import blurry_png

    client = make_client(HOME=tmp_path, SERVER__JOB_TIMEOUT=1)
    scripted.gate = threading.Event()
    threading.Timer(1.5, scripted.gate.set).start()  # the 'restoration' outlasts the deadline
    response = client.post("/api/ask", files={"image": ("photo.png", blurry_png(), "image/png")})
    assert response.status_code == 503, response.text
    assert "CNAPS_SERVER__JOB_TIMEOUT" in response.json()["detail"]
    assert list((tmp_path / "outputs" / "web").iterdir()) == []
