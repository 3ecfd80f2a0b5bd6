"""benchmarks/realphotos.py on a small generated folder laid out like ../shared/validation/bsd100: every method is
scored on every image, the gains compare the right rows, and stamping writes them where the restore path reads."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from benchmarks import realphotos
from tools.restoration import Restorer, build_model, checkpoint
from tools.restoration.checkpoint import save_safetensors


def _folder(tmp_path, count: int = 2):
    rng = np.random.default_rng(0)
    for scale in realphotos.SCALES:
        (tmp_path / f"x{scale}").mkdir(parents=True)
        for index in range(count):
            hr = Image.fromarray(rng.integers(0, 256, (36 + 1, 48, 3), dtype=np.uint8))  # one row more, as BSD100
            lr = hr.resize((48 // scale, 36 // scale), Image.Resampling.BICUBIC)
            hr.save(tmp_path / f"x{scale}" / f"img_{index:03d}_HR.png")
            lr.save(tmp_path / f"x{scale}" / f"img_{index:03d}_LR.png")
    return tmp_path


def test_every_method_scores_every_photo_and_the_gains_follow(tmp_path):
    folder = _folder(tmp_path / "bsd")
    weights = tmp_path / "w.safetensors"
    save_safetensors(build_model("test-mimo-unet"), weights, {"cnaps_provenance": "project", "description": "d"})
    restorer = Restorer("test-mimo-unet", weights=weights, device="cpu")
    results = realphotos.evaluate(restorer, folder, realphotos.SCALES, limit=None)
    cases = {(row["case"], row["method"]): row for row in results["tables"]}
    for scale in realphotos.SCALES:
        for method in ("bicubic", "lanczos", "cnaps restore (lanczos, then network)", "network, then lanczos"):
            assert cases[(f"x{scale}", method)]["images"] == 2
        gain = results["gains"][f"x{scale}"]
        expected = cases[(f"x{scale}", "cnaps restore (lanczos, then network)")]["psnr"] - cases[(f"x{scale}",
                                                                                                  "lanczos")]["psnr"]
        assert abs(gain["mean_db"] - expected) < 0.02 and 0 <= gain["images_below"] <= 2
    assert cases[("deblur", "blurred input")]["images"] == 2
    per_kind = {case: gain for case, gain in results["gains"].items() if case.startswith("deblur ")}
    assert set(per_kind) == {"deblur shake", "deblur object"}  # two photographs: the first two kinds, one each
    assert sum(gain["images"] for gain in per_kind.values()) == results["gains"]["deblur"]["images"]
    assert abs(np.mean([gain["mean_db"] for gain in per_kind.values()]) - results["gains"]["deblur"]["mean_db"]) < 0.02

    realphotos.stamp(weights, results, folder)
    stamped = json.loads(checkpoint.read_metadata(weights)["real_photo_gain_db"])
    assert set(stamped) == {"x2", "x3", "x4", "deblur"}
    assert Restorer("test-mimo-unet", weights=weights, device="cpu").weights.real_photo_gain_db == stamped


def test_baselines_alone_need_no_network(tmp_path):
    results = realphotos.evaluate(None, _folder(tmp_path / "bsd", 1), (2,), limit=None)
    assert {row["method"] for row in results["tables"]} == {"bicubic", "lanczos", "blurred input"}
    assert results["gains"] == {}
