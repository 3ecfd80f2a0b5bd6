"""Real-photograph quality: the table that decides which weights ship.

    PYTHONPATH=. python benchmarks/realphotos.py [--weights W] [--folder ../shared/validation/bsd100] [--limit 50]
        [--scales 2 3 4] [--json results.json]

Enlargement: each `*_LR.png` of `bsd100/x{2,3,4}` goes through the path `cnaps restore --scale` takes
(`Restorer.restore`: Lanczos enlargement of the 8-bit file, then the network), and is scored against its `*_HR.png`
on the Y channel with `scale` border pixels cropped (the super-resolution papers' convention), beside bicubic and
Lanczos enlargement of the same file and beside the other order (the network at the small size, then Lanczos).

Deblurring: the `x2` HR photographs blurred with the project's realistic kernels (camera-shake trajectories, object
motion, averaged shifted frames, defocus, linear motion; sensor noise and JPEG as users' photos have) at a
held-out seed that training never draws, stored as 8-bit, then restored at their own size; RGB PSNR and SSIM
against the sharp photograph, beside the blurred input.

The folder is the first half of BSD100 (`../shared/validation`): validate and choose on it, never train on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.restoration import checkpoint, degrade, synthdata, zoo  # noqa: E402
from tools.restoration.engine import Restorer  # noqa: E402
from tools.restoration.metrics import psnr, ssim  # noqa: E402

DEFAULT_FOLDER = REPO.parent / "shared" / "validation" / "bsd100"
SCALES = (2, 3, 4)
DEBLUR_KINDS = ("shake", "object", "frames", "defocus", "linear")
HELDOUT_SEED = 20211011  # the same held-out stream as benchmarks/quality.py; training never draws from it


def pairs(folder: Path, scale: int, limit: int | None) -> list[tuple[str, Path, Path]]:
    """(name, LR path, HR path) of `folder/x{scale}`, sorted, at most `limit`."""
    found = sorted((folder / f"x{scale}").glob("*_LR.png"))[:limit]
    return [(lr.name.removesuffix("_LR.png"), lr, lr.with_name(lr.name.replace("_LR", "_HR"))) for lr in found]


def _rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _scores(result: Image.Image | np.ndarray, clean: np.ndarray, channel: str, border: int) -> tuple[float, float]:
    a = np.asarray(result)
    if border:
        a, clean = a[border:-border, border:-border], clean[border:-border, border:-border]
    return psnr(a, clean, channel), ssim(a, clean, channel)


def enlargement_rows(restorer: Restorer | None, folder: Path, scale: int, limit: int | None,
                     other_order: bool = True) -> dict[str, list[tuple[float, float]]]:
    """Per method, the (Y-PSNR, SSIM) of every image of `folder/x{scale}`."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for _, lr_path, hr_path in pairs(folder, scale, limit):
        small, hr = _rgb(lr_path), np.asarray(_rgb(hr_path))
        size = (small.width * scale, small.height * scale)
        clean = hr[:size[1], :size[0]]  # (H, W, 3): HR files may carry a row or column more than LR x scale
        methods = {"bicubic": small.resize(size, Image.Resampling.BICUBIC),
                   "lanczos": small.resize(size, Image.Resampling.LANCZOS)}
        if restorer is not None:
            methods["cnaps restore (lanczos, then network)"] = restorer.restore(small, scale, policy="network")
            if other_order:
                methods["network, then lanczos"] = restorer.restore(small, scale, policy="network-first")
        for method, result in methods.items():
            rows.setdefault(method, []).append(_scores(result, clean, "y", scale))
    return rows


def blurred_photo(clean: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """A sharp photograph blurred with one realistic kind at a fixed seed, with noise/JPEG, as 8-bit."""
    generator = torch.Generator().manual_seed(seed)
    return synthdata.to_array(degrade.apply(kind, synthdata.to_tensor(clean), generator, degrade.RECIPES["users"]))


def deblur_kind(index: int) -> str:
    """The blur the `index`-th photograph gets: the kinds in turn, so each covers a fifth of the set."""
    return DEBLUR_KINDS[index % len(DEBLUR_KINDS)]


def deblurring_rows(restorer: Restorer | None, folder: Path, limit: int | None,
                    seed: int = HELDOUT_SEED) -> dict[str, list[tuple[float, float]]]:
    """Per method, the (RGB PSNR, SSIM) of every sharp x2 HR photograph after one held-out blur."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for index, (_, _, hr_path) in enumerate(pairs(folder, 2, limit)):
        clean = np.asarray(_rgb(hr_path))
        kind = deblur_kind(index)
        blurred = blurred_photo(clean, kind, seed * 1000 + index)
        methods: dict[str, Image.Image | np.ndarray] = {"blurred input": blurred}
        if restorer is not None:
            methods["cnaps restore (network)"] = restorer.restore(Image.fromarray(blurred), 1, policy="network")
        for method, result in methods.items():
            rows.setdefault(method, []).append(_scores(result, clean, "rgb", 0))
    return rows


def summarise(rows: dict[str, list[tuple[float, float]]], case: str) -> list[dict]:
    return [{"case": case, "method": method, "psnr": round(float(np.mean([s[0] for s in scores])), 2),
             "ssim": round(float(np.mean([s[1] for s in scores])), 4), "images": len(scores),
             "worst_psnr": round(float(min(s[0] for s in scores)), 2)}
            for method, scores in rows.items()]


def per_image_gain(rows: dict[str, list[tuple[float, float]]], method: str, baseline: str,
                   keep: list[bool] | None = None) -> dict[str, float]:
    """The mean and the worst per-image PSNR gain of `method` over `baseline`, and how often it is below it; `keep`
    limits it to some of the images."""
    diffs = np.array([a[0] - b[0] for a, b in zip(rows[method], rows[baseline])])
    if keep is not None:
        diffs = diffs[np.array(keep, dtype=bool)]
    return {"mean_db": round(float(diffs.mean()), 2), "worst_db": round(float(diffs.min()), 2),
            "images_below": int((diffs < 0).sum()), "images": len(diffs)}


def evaluate(restorer: Restorer | None, folder: Path, scales: tuple[int, ...], limit: int | None,
             seed: int = HELDOUT_SEED, other_order: bool = True) -> dict:
    """The real-photo tables and the gains that decide shipping: per scale over Lanczos, deblurring over the input."""
    tables: list[dict] = []
    gains: dict[str, dict] = {}
    for scale in scales:
        rows = enlargement_rows(restorer, folder, scale, limit, other_order)
        tables += summarise(rows, f"x{scale}")
        if restorer is not None:
            gains[f"x{scale}"] = per_image_gain(rows, "cnaps restore (lanczos, then network)", "lanczos")
            if other_order:
                gains[f"x{scale} network first"] = per_image_gain(rows, "network, then lanczos", "lanczos")
    rows = deblurring_rows(restorer, folder, limit, seed)
    tables += summarise(rows, "deblur")
    if restorer is not None:
        gains["deblur"] = per_image_gain(rows, "cnaps restore (network)", "blurred input")
        kinds = [deblur_kind(index) for index in range(len(rows["blurred input"]))]
        for kind in DEBLUR_KINDS:  # which blur the network helps: a diagnosis, never stamped (the key has a space)
            if kind in kinds:
                gains[f"deblur {kind}"] = per_image_gain(rows, "cnaps restore (network)", "blurred input",
                                                         [each == kind for each in kinds])
    return {"tables": tables, "gains": gains}


def format_table(results: dict) -> str:
    lines = [f"{'case':<7} {'method':<40} {'PSNR dB':>8} {'SSIM':>7} {'worst':>7} {'images':>7}"]
    for row in results["tables"]:
        lines.append(f"{row['case']:<7} {row['method']:<40} {row['psnr']:>8.2f} {row['ssim']:>7.4f} "
                     f"{row['worst_psnr']:>7.2f} {row['images']:>7}")
    if results["gains"]:
        lines.append("\ngain of the network path (per image: mean, worst, images below the baseline)")
        for case, gain in results["gains"].items():
            baseline = "the blurred input" if case.startswith("deblur") else "Lanczos"
            lines.append(f"{case:<20} {gain['mean_db']:>+6.2f} dB mean, {gain['worst_db']:>+6.2f} dB worst, "
                         f"{gain['images_below']}/{gain['images']} below {baseline}")
    return "\n".join(lines)


def stamp(weights: Path, results: dict, folder: Path) -> dict[str, str]:
    """Record the measured mean gains in the weights' metadata: the restore path reads them to decide where the
    network runs, and answers quote them."""
    gains = {case: gain["mean_db"] for case, gain in results["gains"].items() if " " not in case}
    count = results["gains"]["deblur"]["images"]
    described = (f"BSD100 photographs {folder.name}: the first {count} (validation only, never trained on); x2/x3/x4 "
                 "against Lanczos of the same low-resolution file, deblurring against the photos blurred at a "
                 "held-out seed")
    return checkpoint.update_metadata(weights, {"real_photo_gain_db": json.dumps(gains),
                                                "real_photo_set": described})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = zoo.PROJECT_WEIGHTS_DIR / "mimo-unet.safetensors"
    parser.add_argument("--weights", type=Path, default=default, help=f"weights to score (default {default})")
    parser.add_argument("--model", default="MIMO-UNet", help="zoo model the weights are for (default MIMO-UNet)")
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="bsd100 folder with x2/x3/x4")
    parser.add_argument("--limit", type=int, default=None, help="first N images of each set (default all)")
    parser.add_argument("--scales", type=int, nargs="*", default=list(SCALES),
                        help="enlargement scales to score (default 2 3 4; none: the deblurring rows only)")
    parser.add_argument("--baselines-only", action="store_true")
    parser.add_argument("--no-other-order", action="store_true", help="skip the network-then-Lanczos rows")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here (JSON)")
    parser.add_argument("--stamp", action="store_true",
                        help="write the measured mean gains into --weights' metadata (needs the whole set: no --limit)")
    args = parser.parse_args(argv)
    if args.stamp and (args.limit is not None or args.baselines_only or tuple(args.scales) != SCALES):
        print("--stamp records the gains of the whole set at x2, x3 and x4: drop --limit, --scales and "
              "--baselines-only", file=sys.stderr)
        return 2
    if not (args.folder / "x2").is_dir():
        print(f"no real-photo validation set at {args.folder} (it needs x2/, x3/, x4/ of *_LR.png/*_HR.png): "
              "pass --folder", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    restorer = None if args.baselines_only else Restorer(args.model, weights=args.weights, device=args.device,
                                                         tile="auto")
    started = time.monotonic()
    results = evaluate(restorer, args.folder, tuple(args.scales), args.limit, other_order=not args.no_other_order)
    results.update({"weights": None if restorer is None else restorer.weights.model_dump(),
                    "folder": str(args.folder), "limit": args.limit, "device": args.device,
                    "seconds": round(time.monotonic() - started, 1)})
    print(format_table(results))
    if args.stamp:
        stamp(args.weights, results, args.folder)
        print(f"stamped the gains into {args.weights} (sha256 {checkpoint.sha256(args.weights)})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        temp = args.json.with_name(f".{args.json.name}.tmp")
        temp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        temp.replace(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
