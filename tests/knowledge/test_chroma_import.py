"""knowledge.chroma: chromadb loads without the `overrides` checks, and the decorator is put back afterwards."""

from __future__ import annotations

import subprocess
import sys

import overrides
import pytest

from knowledge.chroma import chromadb, unchecked_overrides


def test_the_original_decorator_is_back_after_the_import():
    assert chromadb.PersistentClient is not None
    assert overrides.override.__module__ == "overrides.overrides"

    class Base:
        def size(self, x: int) -> int:
            return x

    with pytest.raises(TypeError):  # the real decorator still checks classes defined later
        class Wrong(Base):
            @overrides.override
            def size(self, x: int, y: int) -> int:
                return x + y


def test_the_swap_marks_methods_and_is_undone_on_error():
    original = overrides.override
    with pytest.raises(RuntimeError):
        with unchecked_overrides():
            assert overrides.override is not original

            @overrides.override(check_signature=False)
            def method(self):
                return 1

            assert method.__override__ is True
            raise RuntimeError("boom")
    assert overrides.override is original and overrides.overrides is not None


def test_a_fresh_process_imports_chromadb_through_the_shim_and_keeps_its_methods_marked():
    code = ("import knowledge.chroma, overrides; from chromadb.api.rust import RustBindingsAPI as R; "
            "assert overrides.override.__module__ == 'overrides.overrides'; "
            "assert R.heartbeat.__override__ is True; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "ok"
