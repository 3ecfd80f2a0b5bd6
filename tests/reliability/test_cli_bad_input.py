"""The CLI against the generated corpus: one-line errors that carry a fix, no traceback, nothing lost.

Most cases run in-process through `agent.cli.main` (the real argument parsing and error mapping, without paying
for a Python start per case); a few run the real `python -m agent.cli` in a subprocess to pin the process-level
contract (exit code, stderr, no traceback).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.reliability.conftest import run_cli
from tests.reliability.corpus import (
    BAD_CARDS,
    BAD_IMAGES,
    EVIL,
    HOSTILE_CARDS,
    ODD_IMAGES,
    files_under,
    has_fix,
    links_in,
    rgb_png,
)


def tiny(weights: Path) -> list[str]:
    return ["--model", "test-mimo-unet", "--weights", str(weights), "--device", "cpu"]


def assert_one_line_error(code: int, out: str, err: str, hint: str = "") -> str:
    """Non-zero exit, exactly one stderr line 'cnaps: error: ...' that says what to do, no traceback."""
    assert code not in (0, None), (out, err)
    assert "Traceback" not in out + err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, f"expected one stderr line, got: {err!r}"
    line = lines[0]
    assert line.startswith("cnaps: error: "), line
    assert has_fix(line), f"no fix in: {line}"
    assert hint.lower() in line.lower(), f"{hint!r} not in: {line}"
    return line


def assert_nothing_written(folder: Path) -> None:
    leftovers = files_under(folder)
    assert leftovers == [], f"files left behind: {leftovers}"


# --- images -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_IMAGES, ids=lambda c: c.name)
def test_bad_image_is_refused_with_one_line(case, corpus, cnaps, tiny_weights, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = cnaps("restore", corpus.images[case.name], out_dir / "restored.png", *tiny(tiny_weights))
    assert_one_line_error(code, out, err, case.hint)
    assert code == 3
    assert_nothing_written(out_dir)


@pytest.mark.parametrize("case", ODD_IMAGES, ids=lambda c: c.name)
def test_odd_image_restores_to_the_right_size(case, corpus, cnaps, tiny_weights, tmp_path):
    target = tmp_path / "out" / f"{case.name}.png"
    code, out, err = cnaps("restore", corpus.images[case.name], target, *tiny(tiny_weights))
    assert code == 0, err
    assert "Traceback" not in out + err
    with Image.open(target) as restored:
        assert restored.size == case.size
        restored.load()  # complete, decodable file
    assert files_under(target.parent) == [target]  # no temp file beside it
    if case.name == "animated":
        assert "first frame" in out


@pytest.mark.parametrize("command", ["ask", "report"])
def test_bad_image_attached_to_a_question_is_refused(command, corpus, cnaps, tiny_weights, tmp_path, offline_store):
    from agent.settings import get_settings

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for case in BAD_IMAGES:
        target = ["--output-dir", out_dir] if command == "ask" else ["-o", out_dir / "report.html"]
        code, out, err = cnaps(command, corpus.cards["injection"], "--image", corpus.images[case.name],
                               *target, *tiny(tiny_weights), "--llm", "none")
        assert_one_line_error(code, out, err, case.hint)
        assert code == 3, case.name
    assert_nothing_written(out_dir)
    assert_nothing_written(get_settings().output_dir)


def test_batch_of_the_whole_corpus_keeps_good_outputs_and_names_failures(corpus, cnaps, tiny_weights, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = cnaps("restore", corpus.root / "images", out_dir, *tiny(tiny_weights))
    assert code == 3 and "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("cnaps: error:")]
    assert len(errors) == 1 and f"{len(BAD_IMAGES)} of {len(BAD_IMAGES) + len(ODD_IMAGES)}" in errors[0]
    assert has_fix(errors[0])
    written = {p.name for p in files_under(out_dir)}
    assert written == {corpus.images[c.name].name for c in ODD_IMAGES}  # every good one, no bad or partial one
    for case in ODD_IMAGES:
        with Image.open(out_dir / corpus.images[case.name].name) as restored:
            assert restored.size == case.size


# --- restore arguments ------------------------------------------------------------------------------------------


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    path.write_bytes(rgb_png(40, 30))
    return path


@pytest.mark.parametrize("scale", ["0", "-1", "100", "2.5", "four"])
def test_bad_scale(scale, photo, cnaps, tiny_weights, tmp_path):
    before = photo.read_bytes()
    code, out, err = cnaps("restore", photo, tmp_path / "out" / "o.png", *tiny(tiny_weights), f"--scale={scale}")
    assert_one_line_error(code, out, err, "scale")
    assert code == 2
    assert_nothing_written(tmp_path / "out")
    assert photo.read_bytes() == before


def test_missing_paths(photo, cnaps, tiny_weights, tmp_path):
    code, out, err = cnaps("restore", tmp_path / "nope.png", tmp_path / "o.png", *tiny(tiny_weights))
    assert_one_line_error(code, out, err, "does not exist")
    code, out, err = cnaps("restore", photo, tmp_path / "o.png", "--model", "test-mimo-unet",
                           "--weights", tmp_path / "missing.safetensors", "--device", "cpu")
    assert_one_line_error(code, out, err, "weights")
    code, out, err = cnaps("ask", tmp_path / "no-card.txt")
    assert_one_line_error(code, out, err, "does not exist")
    assert not (tmp_path / "o.png").exists()


def test_output_equal_to_input_is_refused(photo, cnaps, tiny_weights):
    before = photo.read_bytes()
    for target in (photo, photo.parent / "." / photo.name):
        code, out, err = cnaps("restore", photo, target, *tiny(tiny_weights), "--overwrite")
        assert_one_line_error(code, out, err, "input")
        assert photo.read_bytes() == before
    code, out, err = cnaps("restore", photo.parent, photo.parent, *tiny(tiny_weights), "--overwrite")
    assert_one_line_error(code, out, err, "input folder")
    assert [p.name for p in files_under(photo.parent)] == ["photo.png"] and photo.read_bytes() == before


def test_existing_output_needs_overwrite(photo, cnaps, tiny_weights, tmp_path):
    target = tmp_path / "existing.png"
    target.write_bytes(b"keep me")
    code, out, err = cnaps("restore", photo, target, *tiny(tiny_weights))
    assert_one_line_error(code, out, err, "--overwrite")
    assert target.read_bytes() == b"keep me"
    report = tmp_path / "report.html"
    report.write_text("old report")
    code, out, err = cnaps("report", "-o", report)
    assert_one_line_error(code, out, err, "--overwrite")
    assert report.read_text() == "old report"


def test_output_folder_that_is_a_file(photo, cnaps, tiny_weights, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, out, err = cnaps("restore", photo, blocker / "o.png", *tiny(tiny_weights))
    assert_one_line_error(code, out, err, "writable")
    assert blocker.read_text() == "x"
    code, out, err = cnaps("restore", photo.parent, blocker, *tiny(tiny_weights))
    assert_one_line_error(code, out, err, "folder")


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write into: chmod for a normal user, a read-only tmpfs for root."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("running as root without permission to mount a read-only tmpfs")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_unwritable_folder(photo, cnaps, tiny_weights, read_only_folder):
    code, out, err = cnaps("restore", photo, read_only_folder / "o.png", *tiny(tiny_weights))
    assert_one_line_error(code, out, err, "writable")
    assert code == 4
    assert files_under(read_only_folder) == []


@pytest.mark.parametrize("args, hint", [
    (["--tile", "3"], "tile"),
    (["--device", "tpu"], "device"),
    (["--precision", "fp8"], "precision"),
])
def test_bad_restore_options(args, hint, photo, cnaps, tiny_weights, tmp_path):
    code, out, err = cnaps("restore", photo, tmp_path / "o.png", *tiny(tiny_weights), *args)
    assert_one_line_error(code, out, err, hint)
    assert not (tmp_path / "o.png").exists()


def test_bad_output_names(photo, cnaps, tiny_weights, tmp_path):
    code, out, err = cnaps("restore", photo, tmp_path / "o.xyz", *tiny(tiny_weights))
    assert_one_line_error(code, out, err, ".png")
    code, out, err = cnaps("restore", photo, tmp_path / "o.png", "--model", "no-such-model", "--device", "cpu")
    assert_one_line_error(code, out, err, "unknown model")
    code, out, err = cnaps("report", "-o", tmp_path / "report.exe")
    assert_one_line_error(code, out, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no output and no report was written


@pytest.mark.parametrize("args", [["restore"], ["frobnicate"], ["restore", "a.png", "b.png", "--no-such-flag"],
                                  ["ask", "--format", "yaml"], ["classify"]])
def test_parser_usage_errors_are_one_line(args, cnaps):
    code, out, err = cnaps(*args)
    assert_one_line_error(code, out, err, "--help")
    assert code == 2


def test_an_unexpected_exception_is_one_line_without_traceback(cnaps, monkeypatch):
    def broken(text):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr("agent.classify.classify", broken)
    code, out, err = cnaps("classify", "deblur my photo")
    assert code == 70 and "Traceback" not in err
    assert err.strip("\n").split("\n") == [
        "cnaps: internal error: ValueError: a bug, not bad input (rerun with --debug for the traceback)"]


# --- cards ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_CARDS, ids=lambda c: c.name)
def test_bad_card_is_refused_with_one_line(case, corpus, cnaps):
    code, out, err = cnaps("ask", corpus.cards[case.name], "--llm", "none")
    assert_one_line_error(code, out, err, case.hint)
    assert code == 3 and out == ""


@pytest.mark.parametrize("case", HOSTILE_CARDS, ids=lambda c: c.name)
def test_hostile_card_answer_has_only_provided_links(case, corpus, cnaps, offline_store):
    code, out, err = cnaps("ask", corpus.cards[case.name], "--llm", "none", "--format", "json")
    assert code == 0, err
    answer = json.loads(out)
    links = links_in(out)
    assert links <= set(case.links), links - set(case.links)
    assert EVIL not in out and "javascript:" not in out and "data:text" not in out
    assert {r["url"] for r in answer["references"]} <= set(case.links)
    assert [s["stage"] for s in answer["workflow"]["steps"]] == ["input", "model", "output"]


def test_ask_scale_and_llm_choice_are_checked_before_any_work(corpus, cnaps, offline_store, tmp_path):
    card = corpus.cards["injection"]
    for args, hint in ((["--scale", "0"], "scale"), (["--scale", "100"], "scale"), (["--llm", "gpt"], "--llm")):
        code, out, err = cnaps("ask", card, *args)
        assert_one_line_error(code, out, err, hint)
        assert code == 2


def test_script_card_report_escapes_every_field(corpus, cnaps, offline_store, tmp_path):
    html, markdown = tmp_path / "r.html", tmp_path / "r.md"
    for target in (html, markdown):
        code, out, err = cnaps("report", corpus.cards["script-everywhere"], "-o", target, "--llm", "none")
        assert code == 0, err
    page = html.read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;" in page  # the text is there, as text
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert all(h.startswith(("https://", "http://", "#")) for h in hrefs), hrefs
    raw_tags = re.findall(r"(?<!\\)<(?!https?://)[A-Za-z/!]", markdown.read_text(encoding="utf-8"))
    assert raw_tags == [], raw_tags  # Markdown escapes '<' as '\<'


# --- the real process -------------------------------------------------------------------------------------------


def test_real_process_bad_image_and_bad_card(corpus, tiny_weights, tmp_path):
    """Two real `python -m agent.cli` runs: the process-level contract, not just main()'s mapping."""
    out_dir = tmp_path / "out"
    result = run_cli("restore", corpus.images["header-bomb"], out_dir / "o.png", *tiny(tiny_weights))
    assert_one_line_error(result.returncode, result.stdout, result.stderr, "pixels")
    assert result.returncode == 3
    assert_nothing_written(out_dir)
    result = run_cli("ask", corpus.cards["binary"])
    assert_one_line_error(result.returncode, result.stdout, result.stderr, "binary")
    assert result.returncode == 3


@pytest.mark.parametrize("variable, value, hint", [
    ("CNAPS_RESTORE__PRECISION", "fp8", "'auto', 'fp32', 'fp16' or 'bf16'"),
    ("CNAPS_LLM__MODE", "openia", "CNAPS_LLM__MODE"),
    ("CNAPS_LLM__TIMEOUT", "0", "greater than 0"), ("CNAPS_LLM__MAX_TOKENS", "0", "greater than or equal to 1"),
    ("CNAPS_SERVER__KEEP_RUNS", "0", "CNAPS_SERVER__KEEP_RUNS"),
    ("CNAPS_LLM", "{bad", "CNAPS_LLM could not be read (it is not valid JSON)"),
    ("CNAPS_WEIGHTS_DIR", "/no/such/folder", "does not point to a directory"),
    ("CNAPS_RESTORE__DEVICE", "tpu", "CNAPS_RESTORE__DEVICE"),
])
def test_a_bad_setting_in_the_environment_is_one_line_naming_the_variable(tmp_path, variable, value, hint):
    done = run_cli("ask", "--question", "deblur my photo", env={variable: value, "CNAPS_HOME": str(tmp_path)})
    line = assert_one_line_error(done.returncode, done.stdout, done.stderr, hint)
    assert (f"{variable}='{value}'" in line or "could not be read" in line) and done.returncode == 2


@pytest.mark.parametrize("command", [["ask", "-q", "What is FAM?"], ["report", "-o", "r.html"], ["serve"]])
@pytest.mark.parametrize("option, value, code, hint", [
    ("--model", "Nope", 2, "unknown model 'Nope'"),
    ("--device", "tpu", 2, "unknown device 'tpu'"),
    ("--weights", "missing.pt", 5, "does not exist"),
])
def test_a_bad_restoration_option_fails_up_front_even_without_an_image(command, option, value, code, hint, cnaps,
                                                                         tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got, out, err = cnaps(*command, option, value)
    assert_one_line_error(got, out, err, hint)
    assert got == code and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("command", [["ask", "-q", "What is FAM?"], ["serve", "--port", "8797"]])
def test_a_home_that_cannot_be_written_is_one_line_that_says_to_move_it(command, cnaps, tmp_path, monkeypatch):
    from agent.settings import get_settings

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CNAPS_HOME", str(blocker))
    get_settings.cache_clear()
    code, out, err = cnaps(*command)
    assert_one_line_error(code, out, err, "set CNAPS_HOME to a writable folder")
    assert blocker.read_text() == "not a folder"


def test_a_failed_ask_leaves_no_output_folder_and_text_weights_are_named_for_what_they_are(cnaps, tmp_path,
                                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.txt").write_text("not weights")
    source = tmp_path / "in.png"
    Image.new("RGB", (16, 16)).save(source)
    code, out, err = cnaps("ask", "-q", "deblur it", "-i", source, "--weights", tmp_path / "w.txt", "-o",
                           tmp_path / "o5")
    assert_one_line_error(code, out, err, "not a PyTorch checkpoint or a .safetensors file")
    assert not (tmp_path / "o5").exists()
