"""`cnaps restore` and the typed `restore_image` tool, run in-process with a tiny network and tmp weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.cli import main
from tools.restore import RestoreRequest, restore_image


def _image(path, width=40, height=30, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").save(path)
    return path


def cnaps(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["cnaps", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def _tiny(weights) -> list[str]:
    return ["--model", "test-mimo-unet", "--weights", str(weights), "--device", "cpu"]


def test_restore_one_file_prints_the_record(tmp_path, monkeypatch, capsys, tiny_weights):
    source, target = _image(tmp_path / "in.png"), tmp_path / "out.png"
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, target, *_tiny(tiny_weights), "--scale", "2")
    assert code == 0, err
    assert Image.open(target).size == (80, 60)
    assert "[user]" in out and "lanczos x2 then test-mimo-unet" in out and "sharpness" in out


def test_compare_prints_psnr_and_ssim(tmp_path, monkeypatch, capsys, tiny_weights):
    source = _image(tmp_path / "in.png")
    reference = _image(tmp_path / "ref.png", seed=1)
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, tmp_path / "out.png", *_tiny(tiny_weights),
                           "--compare", reference)
    assert code == 0, err
    assert "PSNR(Y)" in out and "SSIM(Y)" in out


def test_json_format_gives_the_record(tmp_path, monkeypatch, capsys, tiny_weights):
    source = _image(tmp_path / "in.png")
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, tmp_path / "o.png", *_tiny(tiny_weights),
                           "--format", "json", "--tile", "none")
    assert code == 0, err
    [entry] = json.loads(out)
    assert entry["record"]["network"] == "test-mimo-unet" and entry["record"]["tiles"] == 1
    assert entry["quality"]["sharpness_output"] > 0


@pytest.mark.parametrize("scale", ["0", "-1", "100"])
def test_bad_scale_is_a_one_line_usage_error(tmp_path, monkeypatch, capsys, tiny_weights, scale):
    source = _image(tmp_path / "in.png")
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, tmp_path / "out.png", *_tiny(tiny_weights),
                           f"--scale={scale}")
    assert code == 2 and err.count("\n") == 1 and "scale must be" in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def test_existing_output_needs_overwrite(tmp_path, monkeypatch, capsys, tiny_weights):
    source, target = _image(tmp_path / "in.png"), tmp_path / "out.png"
    target.write_bytes(b"keep")
    code, _, err = cnaps(monkeypatch, capsys, "restore", source, target, *_tiny(tiny_weights))
    assert code == 4 and "--overwrite" in err and target.read_bytes() == b"keep"
    code, _, err = cnaps(monkeypatch, capsys, "restore", source, target, *_tiny(tiny_weights), "--overwrite")
    assert code == 0 and Image.open(target).size == (40, 30)


def test_input_errors_are_one_line(tmp_path, monkeypatch, capsys, tiny_weights):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for source, expected in ((tmp_path / "absent.png", "does not exist"), (text, "cannot read")):
        code, _, err = cnaps(monkeypatch, capsys, "restore", source, tmp_path / "out.png", *_tiny(tiny_weights))
        assert code == 3 and expected in err and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


def test_float_and_wide_integer_tiffs_are_refused_not_written_dark(tmp_path, monkeypatch, capsys, tiny_weights):
    Image.fromarray(np.full((12, 12), 0.8, np.float32)).save(tmp_path / "float.tif")
    Image.fromarray(np.full((12, 12), 1_000_000, np.int32)).save(tmp_path / "wide.tif")
    for name in ("float.tif", "wide.tif"):
        code, _, err = cnaps(monkeypatch, capsys, "restore", tmp_path / name, tmp_path / "out.tif",
                             *_tiny(tiny_weights))
        assert code == 3 and "convert it to an 8- or 16-bit PNG or TIFF" in err and err.count("\n") == 1
    assert not (tmp_path / "out.tif").exists()


def test_a_reference_too_small_for_ssim_is_refused_before_restoring(tmp_path, monkeypatch, capsys, tiny_weights):
    source = _image(tmp_path / "one.png", 1, 1)
    code, _, err = cnaps(monkeypatch, capsys, "restore", source, tmp_path / "out" / "o.png", *_tiny(tiny_weights),
                         "--compare", source)
    assert code == 2 and "11x11" in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "o.png").exists()


def test_a_folder_reference_too_small_for_ssim_leaves_sharpness_only(tmp_path, monkeypatch, capsys, tiny_weights):
    folder, references = tmp_path / "in", tmp_path / "ref"
    folder.mkdir(), references.mkdir()
    _image(folder / "big.png"), _image(references / "big.png", seed=1)
    _image(folder / "dot.png", 2, 2), _image(references / "dot.png", 2, 2)
    code, out, err = cnaps(monkeypatch, capsys, "restore", folder, tmp_path / "out", *_tiny(tiny_weights),
                           "--compare", references, "--format", "json")
    assert code == 0, err
    assert "11x11" in err and "sharpness only" in err
    quality = {Path(entry["record"]["input_path"]).name: entry["quality"] for entry in json.loads(out)}
    assert quality["big.png"]["ssim_y"] is not None and quality["dot.png"]["ssim_y"] is None


def test_identical_reference_gives_valid_json_with_a_null_psnr(tmp_path, monkeypatch, capsys, tiny_weights):
    source = _image(tmp_path / "in.png")
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, tmp_path / "o.png", *_tiny(tiny_weights),
                           "--compare", source, "--format", "json")
    assert code == 0, err

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    [entry] = json.loads(out, parse_constant=refuse)
    assert entry["quality"]["input_psnr_y"] is None and entry["quality"]["psnr_y"] > 0


@pytest.mark.parametrize("command", [["restore", "in.png", "o.png"], ["classify", "a question"], ["index"]])
def test_record_commands_refuse_the_markdown_format(tmp_path, monkeypatch, capsys, command):
    code, out, err = cnaps(monkeypatch, capsys, *command, "--format", "markdown")
    assert code == 2 and "'markdown' is not one of 'text', 'json'" in err and err.count("\n") == 1 and not out


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch, capsys):
    from tools.restoration import zoo

    monkeypatch.setattr(zoo, "PROJECT_WEIGHTS_DIR", tmp_path)
    source = _image(tmp_path / "in.png")
    code, _, err = cnaps(monkeypatch, capsys, "restore", source, tmp_path / "out.png", "--model", "MIMO-UNet")
    assert code == 5 and "MIMO-UNet.pkl" in err and "CNAPS_WEIGHTS_DIR" in err and "--weights" in err


def test_folder_batch_skips_bad_files_and_keeps_good_ones(tmp_path, monkeypatch, capsys, tiny_weights):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    _image(folder / "a.png")
    _image(folder / "c.jpg", 24, 20)
    (folder / "b.png").write_bytes(b"\x89PNG broken")
    (folder / "readme.txt").write_text("ignored")
    code, stdout, err = cnaps(monkeypatch, capsys, "restore", folder, out, *_tiny(tiny_weights))
    assert code == 3 and "1 of 3 images failed" in err and "b.png" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.jpg"]


def test_ctrl_c_keeps_finished_files_and_writes_no_partial_one(tmp_path, monkeypatch, capsys, tiny_weights):
    from tools.restoration.engine import Restorer

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        _image(folder / name)
    real_run = Restorer.run

    def run(self, image, **options):
        if str(image).endswith("b.png"):
            raise KeyboardInterrupt
        return real_run(self, image, **options)

    monkeypatch.setattr(Restorer, "run", run)
    code, _, err = cnaps(monkeypatch, capsys, "restore", folder, out, *_tiny(tiny_weights))
    assert code == 130 and "1 finished image(s) kept" in err
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_typed_tool_restores_into_the_outputs_folder(tmp_path, tiny_weights):
    assert restore_image.__doc__ and "scale" in restore_image.__doc__
    source = _image(tmp_path / "photo.jpg")
    run = restore_image(RestoreRequest(image=source, scale=2, model_id="test-mimo-unet", weights=tiny_weights))
    assert run.image_path and Image.open(run.image_path).size == (80, 60)
    assert run.input_path == str(source) and "outputs" in run.image_path
    with pytest.raises(ValueError):
        RestoreRequest(image=source, scale=9)


def test_a_plus_id_without_its_checkpoint_runs_mimo_unet_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CNAPS_WEIGHTS_DIR", raising=False)
    source, target = _image(tmp_path / "in.png", 24, 16), tmp_path / "out.png"
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, target, "-m", "Deblur-MIMO-UNet-RealBlur",
                           "--device", "cpu", "--format", "json")
    assert code == 0, err
    record = json.loads(out)[0]["record"]
    assert record["model_id"] == "MIMO-UNet" and record["weights"]["provenance"] == "project"
    assert any("Deblur-MIMO-UNet-RealBlur could not run" in note and "cnaps ran MIMO-UNet instead" in note
               for note in record["notes"])
    with Image.open(target) as image:
        assert image.size == (24, 16)


def test_an_unknown_model_id_is_not_replaced_by_another(tmp_path, monkeypatch, capsys):
    source, target = _image(tmp_path / "in.png"), tmp_path / "out.png"
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, target, "-m", "ESRGAN", "--device", "cpu")
    assert code != 0 and "ESRGAN" in err and not target.exists()


def test_a_network_named_as_such_runs_that_network_or_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CNAPS_WEIGHTS_DIR", raising=False)
    source, target = _image(tmp_path / "in.png", 24, 16), tmp_path / "out.png"
    code, out, err = cnaps(monkeypatch, capsys, "restore", source, target, "-m", "MIMO-UNet+", "--device", "cpu")
    assert code != 0 and "MIMO-UNet+" in err and not target.exists()


def test_an_output_that_is_the_compare_reference_is_refused_and_the_reference_kept(tmp_path, monkeypatch, capsys,
                                                                                    tiny_weights):
    source, reference = _image(tmp_path / "in.png"), _image(tmp_path / "ref.png", seed=1)
    before = reference.read_bytes()
    code, _, err = cnaps(monkeypatch, capsys, "restore", source, reference, *_tiny(tiny_weights),
                         "--compare", reference, "--overwrite")
    assert code == 4 and "is the --compare reference file" in err and err.count("\n") == 1
    assert reference.read_bytes() == before
    folder, references = tmp_path / "batch", tmp_path / "refs"
    folder.mkdir(), references.mkdir()
    _image(folder / "a.png"), _image(references / "a.png", seed=2)
    kept = (references / "a.png").read_bytes()
    code, _, err = cnaps(monkeypatch, capsys, "restore", folder, references, *_tiny(tiny_weights),
                         "--compare", references, "--overwrite")
    assert code == 4 and "is the --compare reference folder" in err
    assert (references / "a.png").read_bytes() == kept


def test_the_batch_policy_lives_in_the_tool_a_missing_folder_reference_leaves_sharpness_only(tmp_path):
    from tools.restore import reference_for

    source = _image(tmp_path / "a.png")
    (tmp_path / "refs").mkdir()
    assert reference_for(None, source, 1, 10**6) == (None, None)
    reference, note = reference_for(tmp_path / "refs", source, 1, 10**6)
    assert reference is None and note.startswith("no reference") and note.endswith(": sharpness only")
    kept = _image(tmp_path / "refs" / "a.png", seed=4)
    assert reference_for(tmp_path / "refs", source, 1, 10**6) == (kept, None)
