"""The four top-level import names come from this repository, not from a same-named package elsewhere."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["agent", "tools", "knowledge", "prompts"])
def test_top_level_packages_are_this_repositorys(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(REPO / name), module.__file__


def test_a_stray_tools_package_in_the_working_folder_does_not_shadow_ours(tmp_path):
    """A `tools` folder where the user runs `cnaps` (common in other projects) must not replace cnaps's: the console
    script puts its own folder, not the working folder, first on sys.path."""
    script = shutil.which("cnaps", path=str(Path(sys.executable).parent)) or shutil.which("cnaps")
    if script is None:
        pytest.skip("the cnaps console script is not installed")
    stray = tmp_path / "tools"
    stray.mkdir()
    (stray / "__init__.py").write_text("raise ImportError('the stray tools package was imported')\n")
    (tmp_path / "bad.png").write_text("not an image")
    done = subprocess.run([script, "restore", "bad.png", "out.png"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 3 and "cannot read bad.png as an image" in done.stderr, done.stderr[-500:]


def test_the_composer_reads_only_the_reading():
    """agent/compose.py, verdicts.py and answers.py take what a question asks from its Reading: no regex, and the raw
    question appears only where it is read (the fallback for a hand-made context) or quoted back to the user."""
    import ast

    for name in ("compose", "verdicts", "answers"):
        tree = ast.parse((REPO / "agent" / f"{name}.py").read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert "re" not in imported, name
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("read", "scrub"):
                node.args = []  # the two places the question may appear
        uses = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "question"
                and isinstance(node.value, ast.Name) and node.value.id == "ctx"]
        assert not uses, (name, uses)


def test_knowledge_imports_nothing_from_the_agent():
    """knowledge/ holds what it needs (its card models, errors, sentence ends); the agent passes settings in."""
    import ast

    for path in (REPO / "knowledge").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name == "agent" or name.startswith("agent.") for name in names), (path, names)


def test_tools_take_only_settings_from_the_agent():
    """tools/ define their own errors; what they still read from agent/ is the settings (and the classify tool,
    which wraps the agent's classifier)."""
    import ast

    allowed = {"agent.settings", "agent.classify", "agent.schemas"}
    for path in (REPO / "tools").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agent"):
                assert node.module in allowed and (node.module == "agent.settings" or path.name == "classify.py"), \
                    (path, node.module)
