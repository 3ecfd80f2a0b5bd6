"""Every output is checked before the slow work, and a refusal leaves nothing behind: no restored image under
$CNAPS_HOME/outputs, no empty --output-dir. `ask --output-dir` writes the answer beside the restored image."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from tests.reliability.corpus import files_under, rgb_png
from tests.reliability.test_cli_bad_input import assert_one_line_error, tiny


@pytest.fixture(params=["read-only mount", "sysfs"])
def unwritable(request, tmp_path):
    """A folder no file can be created in: a read-only tmpfs (root ignores permission bits), else mode 0555; and
    /sys, which permission checks call writable for root while no file can be made there."""
    if request.param == "sysfs":
        import tempfile

        try:
            tempfile.TemporaryFile(dir="/sys").close()
        except OSError:
            yield Path("/sys")
            return
        pytest.skip("/sys takes files here")
    folder = tmp_path / "read-only"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                      capture_output=True).returncode == 0:
        yield folder
        subprocess.run(["umount", str(folder)], capture_output=True)
        return
    if os.geteuid() == 0:
        pytest.skip("root without mount: no folder here is unwritable")
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(rgb_png(48, 32))
    return path


def _no_restoration(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the answer (and its restoration) started before the output was checked")

    monkeypatch.setattr("agent.ask.ask", refuse)


def test_a_report_into_an_unwritable_folder_is_refused_before_restoring(unwritable, photo, cnaps, tiny_weights,
                                                                        monkeypatch):
    from agent.settings import get_settings

    _no_restoration(monkeypatch)
    code, out, err = cnaps("report", "--image", photo, "-o", unwritable / "report.html", *tiny(tiny_weights),
                           "--llm", "none")
    assert_one_line_error(code, out, err, str(unwritable))
    assert code == 4
    assert files_under(get_settings().output_dir) == []


def test_a_report_that_fails_while_writing_leaves_no_restored_image(photo, cnaps, tiny_weights, offline_store,
                                                                    monkeypatch, tmp_path):
    from agent.settings import get_settings

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    import agent.report

    real = agent.report.write_atomically

    def write_on_a_full_disk(*args, **kwargs):
        monkeypatch.setattr(os, "fsync", full)  # only the report's own write meets the full disk
        return real(*args, **kwargs)

    monkeypatch.setattr(agent.report, "write_atomically", write_on_a_full_disk)
    code, out, err = cnaps("report", "--image", photo, "-o", tmp_path / "report.html", *tiny(tiny_weights),
                           "--llm", "none")
    assert_one_line_error(code, out, err, "space")
    assert files_under(get_settings().output_dir) == []
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("image", ["not-an-image", "truncated", "missing"])
def test_ask_with_a_bad_image_creates_no_output_folder(image, cnaps, tiny_weights, offline_store, tmp_path):
    path = tmp_path / f"{image}.png"
    if image == "not-an-image":
        path.write_text("hello, not a picture")
    elif image == "truncated":  # a valid header: refused only while decoding, after the folder could be made
        path.write_bytes(rgb_png(120, 90)[:400])
    out_dir = tmp_path / "new" / "out"
    code, out, err = cnaps("ask", "--image", path, "--output-dir", out_dir, *tiny(tiny_weights), "--llm", "none")
    assert_one_line_error(code, out, err)
    assert code == 3
    assert not (tmp_path / "new").exists()


def test_ask_output_dir_holds_the_answer_beside_the_restored_image(photo, cnaps, tiny_weights, offline_store,
                                                                   tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = cnaps("ask", "--image", photo, "--output-dir", out_dir, *tiny(tiny_weights), "--llm", "none",
                           "--format", "markdown")
    assert code == 0, err
    [image] = [p for p in files_under(out_dir) if p.suffix == ".png"]
    [answer] = [p for p in files_under(out_dir) if p.suffix == ".md"]
    assert answer.stem == image.stem
    assert answer.read_text(encoding="utf-8").strip() == out.strip()
    assert str(answer) in err

    code, out, err = cnaps("ask", "--output-dir", out_dir, "--llm", "none", "--format", "markdown")  # no image
    assert code == 0, err
    assert (out_dir / "answer.md").read_text(encoding="utf-8").strip() == out.strip()
    assert len(files_under(out_dir)) == 3  # nothing replaced


def test_a_decompression_bomb_is_refused_with_cnaps_own_limit(corpus, cnaps, tiny_weights, monkeypatch, tmp_path):
    from PIL import Image

    monkeypatch.setenv("CNAPS_RESTORE__MAX_PIXELS", "1234567")
    from agent.settings import get_settings

    get_settings.cache_clear()
    code, out, err = cnaps("restore", corpus.images["header-bomb"], tmp_path / "o.png", *tiny(tiny_weights))
    line = assert_one_line_error(code, out, err, "CNAPS_RESTORE__MAX_PIXELS")
    assert "1,234,567" in line  # the limit the user can raise ...
    pillows = Image.MAX_IMAGE_PIXELS * 2
    assert str(pillows) not in line.replace(",", "")  # ... not Pillow's, which no cnaps setting changes
    assert "10,000,000,000" in line  # what the file declares (100,000 x 100,000)
