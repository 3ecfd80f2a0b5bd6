"""Run folders: the oldest finished runs go once there are more than the server keeps; live runs stay."""

from __future__ import annotations

import os

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
