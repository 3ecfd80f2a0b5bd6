"""Speed of the MIMO-UNet forward per network, device, precision, image size and batch, with agreement to fp32.

    PYTHONPATH=. python benchmarks/restore_speed.py [--sizes 1280x720] [--networks MIMO-UNet,MIMO-UNet+]
        [--batches 1] [--repeats 3] [--threads N] [--compile] [--cpu-variants all]

Every row runs random weights (seed 0) on a photo-like image. The reference for each (network, device, size,
batch) is the eager fp32 forward of the same weights, run in the same process just before, so the speed-up
column holds on a noisy shared machine. Agreement is the PSNR (dB, 0..255 scale, RGB) between a row's output and
the reference. CPU times: median wall time of `--repeats` runs after one warm-up; CUDA: median of CUDA-event
timings after warm-up. Peak memory: CPU, the highest RSS sampled every 2 ms during the row's runs; CUDA,
torch.cuda.max_memory_allocated. CUDA rows appear only when CUDA is available.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from tools.restoration import build_model
from agent.settings import get_settings
from tools.restoration.tile_forward import TileForward
from tools.restoration.tiling import memory_grid, run_tiled

Forward = Callable[[torch.Tensor], torch.Tensor]


def photo(batch: int, height: int, width: int) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1]: gradients, stripes and noise."""
    torch.manual_seed(1)
    yy = torch.linspace(0, 1, height)[:, None].expand(height, width)
    xx = torch.linspace(0, 1, width)[None, :].expand(height, width)
    image = torch.stack([xx, yy, 0.5 + 0.5 * torch.sin(xx * 60)], 0) * 0.85
    return (image[None] + 0.03 * torch.randn(batch, 3, height, width)).clamp(0, 1)


def agreement_db(out: torch.Tensor, reference: torch.Tensor) -> float:
    a = (out.float().clamp(0, 1) * 255).round()
    b = (reference.float().clamp(0, 1) * 255).round()
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


class RssPeak:
    """Highest resident set size (MB) sampled while the block runs and `active` is set."""

    def __enter__(self):
        self.peak, self._stop, self.active = 0.0, threading.Event(), True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                if self.active:
                    self.peak = max(self.peak, int(statm.read().split()[1]) * page / 2**20)
                time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def time_cpu(forward: Forward, x: torch.Tensor, repeats: int, reference: Forward | None = None
             ) -> tuple[float, float, torch.Tensor, float | None]:
    """Median seconds, peak RSS MB, output; with `reference`, runs alternate with it (A B A B) and its median
    comes back too, so both see the same load on a shared machine."""
    with torch.inference_mode():
        out = forward(x)  # warm-up (oneDNN primitive creation, compilation)
        times, reference_times = [], []
        with RssPeak() as rss:
            for _ in range(repeats):
                if reference is not None:
                    rss.active = False  # the reference's memory is its own row's
                    start = time.perf_counter()
                    reference(x)
                    reference_times.append(time.perf_counter() - start)
                    rss.active = True
                start = time.perf_counter()
                out = forward(x)
                times.append(time.perf_counter() - start)
    return statistics.median(times), rss.peak, out, statistics.median(reference_times) if reference_times else None


def time_cuda(forward: Forward, x: torch.Tensor, repeats: int, reference: Forward | None = None
              ) -> tuple[float, float, torch.Tensor, float | None]:
    with torch.inference_mode():
        for _ in range(3):
            out = forward(x)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(max(repeats, 20)):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = forward(x)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1000)
    return statistics.median(times), torch.cuda.max_memory_allocated() / 2**20, out, None


def variants(model: torch.nn.Module, device: torch.device, compile_too: bool, cpu_variants: str,
             height: int, width: int) -> dict[str, tuple[str, Forward]]:
    """name -> (precision, forward). The first entry is the eager fp32 reference."""
    plain = model.to(device).eval()

    def eager(x):
        return plain(x)[-1]

    rows: dict[str, tuple[str, Forward]] = {"eager": ("fp32", eager)}
    if device.type == "cpu":
        last = build_model_like(model).to(memory_format=torch.channels_last).eval()
        rows["channels_last"] = ("fp32", lambda x: last(x.contiguous(memory_format=torch.channels_last))[-1])
        rows["channels_last + lean restore()"] = (
            "fp32", lambda x: last.restore(x.contiguous(memory_format=torch.channels_last)))
        grid = memory_grid(plain, device, "fp32", height, width, get_settings().restore.cpu_memory_budget_mb)
        engine = TileForward(build_model_like(model), device, "fp32")  # what Restorer runs by default
        layout = "whole image" if grid.whole else f"{grid.tiles} tiles of {grid.tile_w}x{grid.tile_h}"
        rows[f"engine default, {layout}"] = ("fp32", lambda x: torch.cat(
            [run_tiled(engine, x[i:i + 1], grid)[0] for i in range(x.shape[0])]))
        if cpu_variants == "all":
            def bf16(x):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return plain(x)[-1].float()

            rows["autocast bf16"] = ("bf16", bf16)
        if compile_too:
            import torch._inductor.config as inductor

            inductor.freezing = True  # fold weights, prepack them for oneDNN
            compiled = torch.compile(build_model_like(model).eval())
            rows["torch.compile (inductor, frozen)"] = ("fp32", lambda x: compiled(x)[-1])
        return rows
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    last = build_model_like(model).to(device, memory_format=torch.channels_last).eval()
    for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        def half(x, dtype=dtype):
            with torch.autocast("cuda", dtype=dtype):
                return last.restore(x.contiguous(memory_format=torch.channels_last)).float()

        rows[f"autocast {name} channels_last, restore()"] = (name, half)
    if compile_too:
        compiled = torch.compile(build_model_like(model).to(device, memory_format=torch.channels_last).eval(),
                                 mode="max-autotune")

        def compiled_fp16(x):
            with torch.autocast("cuda", dtype=torch.float16):
                return compiled(x.contiguous(memory_format=torch.channels_last))[-1].float()

        rows["compile max-autotune fp16"] = ("fp16", compiled_fp16)
    return rows


def build_model_like(model: torch.nn.Module) -> torch.nn.Module:
    """A second instance with the same weights (so a variant's layout changes never touch the reference)."""
    twin = build_model(model.network_name)
    twin.load_state_dict(model.state_dict())
    return twin.to(next(model.parameters()).device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="640x360")
    parser.add_argument("--networks", default="MIMO-UNet")
    parser.add_argument("--batches", default="1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--devices", default="auto", help="auto (cpu, plus cuda when available), cpu or cuda")
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows (minutes to compile)")
    parser.add_argument("--cpu-variants", default="fast", choices=["all", "fast"],
                        help="'all' adds a bf16 autocast row (emulated, ~35x slower, on CPUs without AVX512-BF16/AMX)")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    devices = ["cpu", "cuda"] if options.devices == "auto" else options.devices.split(",")
    devices = [d for d in devices if d != "cuda" or torch.cuda.is_available()]
    cpu_name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), "cpu")
    print(f"torch {torch.__version__}; CPU: {cpu_name}, {options.threads} threads"
          + (f"; GPU: {torch.cuda.get_device_name(0)}" if "cuda" in devices else "; no CUDA GPU"))
    header = (f"{'network':<11} {'device':<5} {'size':>9} {'batch':>5} {'variant':<34} {'prec':<5} "
              f"{'ms/image':>10} {'images/s':>9} {'speed-up':>8} {'peak MB':>8} {'agree dB':>8}")
    print(header)
    print("-" * len(header))
    for network in options.networks.split(","):
        for device_name in devices:
            device = torch.device(device_name)
            for size in options.sizes.split(","):
                width, height = (int(n) for n in size.split("x"))
                for batch in (int(b) for b in options.batches.split(",")):
                    torch.manual_seed(0)
                    model = build_model(network)
                    model.network_name = network
                    x = photo(batch, height, width).to(device)
                    timer = time_cuda if device.type == "cuda" else time_cpu
                    reference, reference_seconds, eager = None, None, None
                    for name, (precision, forward) in variants(model, device, options.compile,
                                                               options.cpu_variants, height, width).items():
                        try:
                            seconds, peak, out, paired = timer(forward, x, options.repeats, eager)
                        except Exception as error:  # a variant this build or device cannot run
                            print(f"{network:<11} {device_name:<5} {size:>9} {batch:>5} {name:<34} "
                                  f"skipped: {type(error).__name__}: {str(error).splitlines()[0][:60]}")
                            continue
                        if reference is None:
                            reference, reference_seconds, eager = out, seconds, forward
                        if paired is not None:
                            reference_seconds = paired  # the eager run interleaved with this row
                        agree = agreement_db(out, reference)
                        print(f"{network:<11} {device_name:<5} {size:>9} {batch:>5} {name:<34} {precision:<5} "
                              f"{seconds / batch * 1000:10.1f} {batch / seconds:9.2f} "
                              f"{reference_seconds / seconds:7.2f}x {peak:8.0f} {agree:8.1f}", flush=True)


if __name__ == "__main__":
    main()
