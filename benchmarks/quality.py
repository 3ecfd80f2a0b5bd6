"""Restoration quality on images never used in training: PSNR and SSIM against the clean image.

    PYTHONPATH=. python benchmarks/quality.py [--weights tools/restoration/weights/mimo-unet.safetensors]
        [--real-folder ../shared/validation/bsd100] [--real-limit N] [--no-synthetic]
        [--size 192] [--procedural 4] [--seed 20211011] [--json results.json]

First, and deciding which weights ship, the real-photo table of benchmarks/realphotos.py: BSD100 photographs
enlarged x2/x3/x4 through the path `cnaps restore --scale` takes, against bicubic and Lanczos of the same
low-resolution file, and deblurring of those photographs blurred at a held-out seed. It is printed when the folder
is there; when it is not, one line says so and only the synthetic table follows.

Then the synthetic table (it does not predict real photographs: it once reported gains where real photos lost).
Two sets, both cut from the held-out split (held-out photos and held-out procedural scenes) and degraded with a
held-out seed:
  deblurring   camera shake, linear motion, defocus, object motion and averaged frames (noise/JPEG as in training);
               PSNR/SSIM over RGB, for the blurred input, an unsharp mask, and the network.
  enlargement  antialiased bicubic downscale by 2, 3 and 4, then bicubic back up; PSNR/SSIM on the Y channel with
               a border of `scale` pixels cropped, for bicubic, bicubic + unsharp mask, and bicubic + the network
               (the training's enlargement); then what `cnaps restore --scale` runs: the low-resolution image saved
               as 8-bit, enlarged with Pillow's Lanczos, then the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import realphotos  # noqa: E402
from tools.restoration import build_model, checkpoint, degrade, synthdata, zoo  # noqa: E402
from tools.restoration.metrics import psnr, ssim  # noqa: E402


def _shown_path(path: Path) -> str:
    """A path relative to the repository when it lies inside it, so results carry no machine's folders."""
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


DEBLUR_KINDS = ("shake", "linear", "defocus", "object", "frames")
SCALES = (2, 3, 4)
HELDOUT_SEED = 20211011  # degradations of the benchmark; training never draws from it


def unsharp(image: np.ndarray) -> np.ndarray:
    """The classical baseline: PIL's unsharp mask (radius 2, 100 %, threshold 0)."""
    return np.asarray(Image.fromarray(image).filter(ImageFilter.UnsharpMask(radius=2, percent=100, threshold=0)))


def lanczos_enlarged(clean: torch.Tensor, scale: int) -> np.ndarray:
    """The enlargement cnaps runs: the antialiased downscale stored as 8-bit, then Pillow's Lanczos back up."""
    h, w = clean.shape[-2:]
    small = torch.nn.functional.interpolate(clean, size=(max(1, round(h / scale)), max(1, round(w / scale))),
                                            mode="bicubic", antialias=True, align_corners=False)
    image = Image.fromarray(synthdata.to_array(small))
    return np.asarray(image.resize((w, h), Image.Resampling.LANCZOS))


def load_network(weights: Path, network: str | None, device: torch.device) -> tuple[torch.nn.Module, dict]:
    metadata = checkpoint.read_metadata(weights)
    model = build_model(network or metadata.get("network", "MIMO-UNet"))
    checkpoint.load_into(model, checkpoint.load_state(weights), source=str(weights))
    return model.float().eval().to(device), metadata


@torch.no_grad()
def run_network(model: torch.nn.Module, image: np.ndarray, device: torch.device) -> np.ndarray:
    x = synthdata.to_tensor(image).to(device)
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="replicate")
    return synthdata.to_array(model(padded)[-1][..., :h, :w])


def _crop(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border else image


def _score(rows: dict, key: tuple[str, str], clean: np.ndarray, result: np.ndarray, channel: str,
           border: int = 0) -> None:
    a, b = _crop(result, border), _crop(clean, border)
    rows.setdefault(key, []).append((psnr(a, b, channel), ssim(a, b, channel)))


def evaluate(model: torch.nn.Module | None, size: int, procedural: int, seed: int,
             device: torch.device) -> dict[str, list[dict]]:
    """Mean PSNR/SSIM per (set, degradation, method); `model=None` scores only the baselines."""
    images = synthdata.heldout_images(size=size, procedural=procedural)
    recipe = degrade.RECIPES["users"]
    deblur: dict = {}
    enlarge: dict = {}
    for index, (_, array) in enumerate(images):
        clean = synthdata.to_tensor(array)
        for kind_index, kind in enumerate(DEBLUR_KINDS):
            generator = torch.Generator().manual_seed(seed * 1000 + index * 10 + kind_index)
            blurred = synthdata.to_array(degrade.apply(kind, clean, generator, recipe))
            _score(deblur, (kind, "blurred input"), array, blurred, "rgb")
            _score(deblur, (kind, "unsharp mask"), array, unsharp(blurred), "rgb")
            if model is not None:
                _score(deblur, (kind, "network"), array, run_network(model, blurred, device), "rgb")
        for scale in SCALES:
            bicubic = synthdata.to_array(degrade.upscaled(clean, scale))
            _score(enlarge, (f"x{scale}", "bicubic"), array, bicubic, "y", scale)
            _score(enlarge, (f"x{scale}", "bicubic + unsharp mask"), array, unsharp(bicubic), "y", scale)
            if model is not None:
                _score(enlarge, (f"x{scale}", "bicubic + network"), array, run_network(model, bicubic, device), "y",
                       scale)
            lanczos = lanczos_enlarged(clean, scale)
            _score(enlarge, (f"x{scale}", "lanczos (cnaps)"), array, lanczos, "y", scale)
            if model is not None:
                _score(enlarge, (f"x{scale}", "lanczos + network (cnaps)"), array,
                       run_network(model, lanczos, device), "y", scale)

    def summarise(rows: dict) -> list[dict]:
        table = []
        for (case, method), scores in rows.items():
            table.append({"case": case, "method": method, "psnr": round(float(np.mean([s[0] for s in scores])), 2),
                          "ssim": round(float(np.mean([s[1] for s in scores])), 4), "images": len(scores)})
        methods = list(dict.fromkeys(r["method"] for r in table))
        for method in methods:  # the mean over every case
            mine = [r for r in table if r["method"] == method]
            table.append({"case": "mean", "method": method,
                          "psnr": round(float(np.mean([r["psnr"] for r in mine])), 2),
                          "ssim": round(float(np.mean([r["ssim"] for r in mine])), 4),
                          "images": sum(r["images"] for r in mine)})
        return table

    return {"deblurring (RGB)": summarise(deblur),
            "enlargement (Y, border cropped)": summarise(enlarge)}


def format_table(results: dict[str, list[dict]]) -> str:
    lines = []
    for name, rows in results.items():
        lines.append(f"\n{name}")
        lines.append(f"{'case':<10} {'method':<28} {'PSNR dB':>8} {'SSIM':>7} {'images':>7}")
        for row in rows:
            lines.append(f"{row['case']:<10} {row['method']:<28} {row['psnr']:>8.2f} {row['ssim']:>7.4f} "
                         f"{row['images']:>7}")
    return "\n".join(lines)


def gains(results: dict[str, list[dict]]) -> dict[str, float]:
    """The network's mean PSNR gain over the degraded input (deblurring) and over bicubic (each scale)."""
    out = {}
    rows = {(r["case"], r["method"]): r["psnr"] for r in results["deblurring (RGB)"]}
    if ("mean", "network") in rows:
        out["deblur_mean_gain_db"] = round(rows[("mean", "network")] - rows[("mean", "blurred input")], 2)
    rows = {(r["case"], r["method"]): r["psnr"] for r in results["enlargement (Y, border cropped)"]}
    for scale in SCALES:
        if (f"x{scale}", "bicubic + network") in rows:
            out[f"x{scale}_gain_over_bicubic_db"] = round(
                rows[(f"x{scale}", "bicubic + network")] - rows[(f"x{scale}", "bicubic")], 2)
        if (f"x{scale}", "lanczos + network (cnaps)") in rows:
            out[f"x{scale}_cnaps_gain_over_bicubic_db"] = round(
                rows[(f"x{scale}", "lanczos + network (cnaps)")] - rows[(f"x{scale}", "bicubic")], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = zoo.PROJECT_WEIGHTS_DIR / "mimo-unet.safetensors"
    parser.add_argument("--weights", type=Path, default=default, help=f"weights to score (default {default})")
    parser.add_argument("--network", default=None, help="network of --weights (default: from its metadata)")
    parser.add_argument("--baselines-only", action="store_true", help="score only the input and classical baselines")
    parser.add_argument("--size", type=int, default=192, help="edge of the held-out crops (default 192)")
    parser.add_argument("--procedural", type=int, default=4, help="held-out procedural scenes (default 4)")
    parser.add_argument("--seed", type=int, default=HELDOUT_SEED, help="held-out degradation seed")
    parser.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda'")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here (JSON)")
    parser.add_argument("--real-folder", type=Path, default=realphotos.DEFAULT_FOLDER,
                        help="BSD100 folder with x2/x3/x4 (*_LR.png, *_HR.png)")
    parser.add_argument("--real-limit", type=int, default=None, help="first N photographs of each real set")
    parser.add_argument("--no-synthetic", action="store_true", help="print only the real-photo table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    real = None
    if (args.real_folder / "x2").is_dir():
        restorer = None if args.baselines_only else realphotos.Restorer(
            "MIMO-UNet" if args.network in (None, "MIMO-UNet") else args.network, weights=args.weights,
            device="cpu" if args.device == "auto" else args.device)
        real = realphotos.evaluate(restorer, args.real_folder, realphotos.SCALES, args.real_limit)
        print(f"real photographs: {_shown_path(args.real_folder)} (validation only, never trained on)")
        print(realphotos.format_table(real))
    else:
        print(f"real photographs: no set at {args.real_folder}, so no real-photo table (pass --real-folder)")
    if args.no_synthetic:
        if args.json and real is not None:
            _write_json(args.json, {"real_photos": real})
        return 0
    print("\nsynthetic held-out scenes (procedural and package photos; does not predict real photographs)")
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    model, metadata = (None, {}) if args.baselines_only else load_network(args.weights, args.network, device)
    started = time.monotonic()
    results = evaluate(model, args.size, args.procedural, args.seed, device)
    report = {
        "weights": None if model is None else _shown_path(Path(args.weights)),
        "sha256": None if model is None else checkpoint.sha256(args.weights),
        "weights_description": metadata.get("description"),
        "weights_steps": metadata.get("steps"),
        "weights_metadata": metadata,
        "heldout_images": [name for name, _ in synthdata.heldout_images(args.size, args.procedural)],
        "size": args.size, "degradation_seed": args.seed, "device": str(device),
        "seconds": round(time.monotonic() - started, 1),
        "gains": gains(results), "results": results, "real_photos": real,
    }
    print(format_table(results))
    print("\n" + json.dumps(report["gains"]))
    if args.json:
        _write_json(args.json, report)
    return 0


def _write_json(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    temp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
