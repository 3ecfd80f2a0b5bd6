import os

import pytest

from agent.errors import OutputError
from tools.atomic import atomic_write


def test_written_file_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "a.bin", lambda stream: stream.write(b"abc"))
    finally:
        os.umask(old)
    assert path.read_bytes() == b"abc"
    assert path.stat().st_mode & 0o777 == 0o644


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def broken(stream):
        stream.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="free some space"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_interrupt_removes_the_temporary_file(tmp_path):
    def interrupted(stream):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "b.bin", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_must_not_replace_loses_the_race_instead_of_overwriting(tmp_path):
    target = tmp_path / "out.png"

    def write_after_another_writer_won(stream):
        stream.write(b"mine")
        target.write_bytes(b"theirs")  # another process finished first, after any existence check

    with pytest.raises(OutputError, match="already exists"):
        atomic_write(target, write_after_another_writer_won, replace=False)
    assert target.read_bytes() == b"theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    atomic_write(tmp_path / "new.png", lambda stream: stream.write(b"new"), replace=False)
    assert (tmp_path / "new.png").read_bytes() == b"new"
