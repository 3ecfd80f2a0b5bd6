"""Peak memory of one restoration per image size, each measured in a fresh subprocess.

    PYTHONPATH=. python benchmarks/restore_memory.py [--sizes 3000x2000,1280x720] [--networks MIMO-UNet]
        [--device cpu] [--tile auto] [--threads N]

Each row runs the real path of `cnaps restore` (decode a PNG, tile, blend, encode, atomic write) with random
weights of the named network. On the CPU the figure is the child's peak RSS (VmHWM: unlike ru_maxrss it does not
start from the parent's RSS at spawn) and its RSS after importing torch and building the network; on CUDA, torch's
peak allocated device memory as well.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RSS_TARGET_MB = 1536  # issues 3 and 7: at most 1.5 GB on the CPU, for a 3000x2000 photo and at any size

_CHILD = r"""
import json, sys, time


def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

import torch
from tools.restoration import Restorer, build_model
from tools.restoration.checkpoint import save_safetensors

args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
folder = args["folder"]
torch.manual_seed(0)
save_safetensors(build_model(args["network"]), f"{folder}/w.safetensors")
restorer = Restorer(args["network"], weights=f"{folder}/w.safetensors", device=args["device"], tile=args["tile"])
ready_mb = peak_mb()
if restorer.device.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
run = restorer.run(f"{folder}/in.png", output=f"{folder}/out.png", overwrite=True)
result = {"ready_mb": ready_mb, "peak_mb": peak_mb(),
          "seconds": run.seconds, "tiles": run.tiles, "tile_size": run.tile_size, "device": run.device,
          "precision": run.precision}
if restorer.device.type == "cuda":
    result["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
print("RESULT " + json.dumps(result))
"""


def write_photo(path: Path, width: int, height: int) -> None:
    """A photo-like PNG (smooth gradients plus noise, so decoding does real work), made band by band here in the
    parent so that the child's peak RSS is the restoration's alone."""
    rng = np.random.default_rng(0)
    image = Image.new("RGB", (width, height))
    for top in range(0, height, 256):
        rows = min(256, height - top)
        yy, xx = np.mgrid[top:top + rows, 0:width].astype(np.float32)
        pixels = np.stack([xx / width, yy / height, 0.5 + 0.5 * np.sin(xx / 40)], axis=2) * 220
        pixels += rng.normal(0, 8, pixels.shape).astype(np.float32)
        image.paste(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), (0, top))
    image.save(path, compress_level=1)


def measure(network: str, size: tuple[int, int], device: str, tile: str, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        write_photo(Path(folder) / "in.png", *size)
        args = {"network": network, "size": size, "device": device, "tile": tile, "threads": threads,
                "folder": folder}
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], capture_output=True, text=True,
                              env=env, cwd=ROOT)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="3000x2000,1280x720")
    parser.add_argument("--networks", default="MIMO-UNet")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tile", default="auto")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    options = parser.parse_args()
    sizes = [tuple(int(n) for n in size.split("x")) for size in options.sizes.split(",")]
    header = (f"{'size':>10} {'network':<15} {'device':<24} {'prec':<5} {'tile':>9} {'tiles':>5} {'s/image':>8} "
              f"{'RSS ready MB':>12} {'peak RSS MB':>11} {'CUDA peak MB':>12}  RSS <= 1.5 GB")
    print(header)
    print("-" * len(header))
    for network in options.networks.split(","):
        for width, height in sizes:
            row = measure(network, (width, height), options.device, options.tile, options.threads)
            if "error" in row:
                print(f"{width}x{height:<5} {network:<15} error: {row['error']}")
                continue
            cuda = f"{row['cuda_peak_mb']:12.0f}" if "cuda_peak_mb" in row else f"{'-':>12}"
            ok = "yes" if row["peak_mb"] <= RSS_TARGET_MB else "NO"
            print(f"{width:>5}x{height:<4} {network:<15} {row['device']:<24} {row['precision']:<5} "
                  f"{row['tile_size'] or 'whole':>9} {row['tiles']:>5} {row['seconds']:8.1f} {row['ready_mb']:12.0f} "
                  f"{row['peak_mb']:11.0f} {cuda}  {ok}", flush=True)


if __name__ == "__main__":
    main()
