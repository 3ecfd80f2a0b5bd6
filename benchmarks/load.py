"""Load on `cnaps serve`: concurrent clients on 127.0.0.1, questions with and without small images.

Starts the server as a subprocess on a free loopback port (its own CNAPS_HOME unless --home is given), waits for
/healthz, warms it up (the first question builds the knowledge index), then runs --clients threads that POST
/api/ask until --requests answers came back or --duration seconds passed, whichever is first (one round; --rounds
repeats it). Prints requests/s, p50/p95 latency per kind, responses by HTTP status, and the server's resident
memory before and after each round. Stops the server by itself.

    PYTHONPATH=. python benchmarks/load.py                   # tiny random network: measures the server, not MIMO-UNet
    PYTHONPATH=. python benchmarks/load.py --clients 8 --requests 400 --image-share 0.5
    PYTHONPATH=. python benchmarks/load.py --model MIMO-UNet --weights ~/weights/MIMO-UNet.pkl
    PYTHONPATH=. python benchmarks/load.py --backend ray --ray-workers 2 --image-share 1 --image-size 256x192

With --backend ray the server starts a local Ray instance (CNAPS_RAY__ADDRESS=local) with --ray-workers worker
actors of --ray-cpus CPUs each, and its restore pool is sized by them; the RSS is the web process's alone.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only: this script never talks to another machine
QUESTIONS = (
    "I upscaled a blurry photo by 4x and could still read the signs. How does this model recreate such detail?",
    "How does MIMO-UNet remove motion blur from a photo of a street?",
    "Can this model make my photo twice as large and sharper?",
    "Why do faces look sharper after deblurring?",
)


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"question": [], "image": []})
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # transport errors by type (no HTTP status)
    sent: int = 0

    def take_ticket(self, limit: int) -> int | None:
        with self.lock:
            if self.sent >= limit:
                return None
            self.sent += 1
            return self.sent

    def record(self, kind: str, seconds: float, status: int | None, failure: str | None = None) -> None:
        with self.lock:
            if status is not None:
                self.statuses[status] += 1
                if status == 200:
                    self.latencies[kind].append(seconds)
            else:
                self.failures[failure or "error"] += 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def small_images(count: int = 4, size: tuple[int, int] = (64, 48)) -> list[bytes]:
    images = []
    for seed in range(count):
        pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels, "RGB").filter(ImageFilter.GaussianBlur(1.5)).save(buffer, format="PNG")
        images.append(buffer.getvalue())
    return images


def tiny_weights(folder: Path) -> Path:
    """Random test-mimo-unet weights, so image requests measure the server rather than a large network."""
    import torch

    from tools.restoration import build_model
    from tools.restoration.checkpoint import save_safetensors

    torch.manual_seed(0)
    path = folder / "tiny.safetensors"
    save_safetensors(build_model("test-mimo-unet"), path, {"description": "random load-test weights"},
                     dtype=torch.float32)
    return path


def start_server(args: argparse.Namespace, home: Path, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "agent.cli", "serve", "--host", HOST, "--port", str(port), "--llm", "none",
               "--device", "cpu", "--model", args.model, "--weights", str(args.weights)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CNAPS_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "CNAPS_SERVER__WORKERS": str(args.workers), "CNAPS_SERVER__QUEUE_SIZE": str(args.queue),
           "CNAPS_RESTORE__BACKEND": args.backend}
    if args.backend == "ray":
        env.update({"CNAPS_RAY__ADDRESS": "local", "CNAPS_RAY__WORKERS": str(args.ray_workers),
                    "CNAPS_RAY__WORKER_CPUS": str(args.ray_cpus)})
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    with open(log, "w") as stderr:  # a file, not a pipe: a full pipe would stall the server
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def wait_ready(base: str, server: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


def ask(client: httpx.Client, base: str, ticket: int, images: list[bytes], image_share: float,
        timeout: float) -> tuple[str, httpx.Response]:
    with_image = int(ticket * image_share) != int((ticket - 1) * image_share)  # spread evenly over tickets
    data = {"question": QUESTIONS[ticket % len(QUESTIONS)], "scale": "1"}
    files = {"image": (f"load{ticket}.png", images[ticket % len(images)], "image/png")} if with_image else None
    kind = "image" if with_image else "question"
    return kind, client.post(f"{base}/api/ask", data=data, files=files, timeout=timeout)


def drive(base: str, args: argparse.Namespace, images: list[bytes]) -> tuple[Tally, float]:
    tally = Tally()
    deadline = time.monotonic() + args.duration

    def client_loop() -> None:
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                ticket = tally.take_ticket(args.requests)
                if ticket is None:
                    return
                started = time.perf_counter()
                try:
                    kind, response = ask(client, base, ticket, images, args.image_share, args.timeout)
                    tally.record(kind, time.perf_counter() - started, response.status_code)
                except httpx.HTTPError as error:
                    tally.record("question", time.perf_counter() - started, None, type(error).__name__)

    threads = [threading.Thread(target=client_loop, name=f"client-{i}") for i in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(tally: Tally, elapsed: float, rss_before: float, rss_after: float, args: argparse.Namespace) -> None:
    done = sum(tally.statuses.values())
    workers = (f"ray backend, {args.ray_workers} local Ray worker(s) of {args.ray_cpus:g} CPU" if args.backend == "ray"
               else f"local backend, {args.workers} restore worker(s)")
    print(f"\ncnaps serve under load: {args.clients} clients, {args.image_share:.0%} with a {args.image_size} image, "
          f"model {args.model}, {workers}, queue {args.queue}")
    print(f"{done} responses in {elapsed:.1f} s = {done / elapsed:.2f} requests/s")
    print(f"{'kind':<10}{'ok':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for kind, values in tally.latencies.items():
        values_ms = [v * 1000 for v in values]
        print(f"{kind:<10}{len(values):>6}{percentile(values_ms, 50):>10.0f}{percentile(values_ms, 95):>10.0f}"
              f"{max(values_ms, default=float('nan')):>10.0f}")
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(tally.statuses.items()))
    errors = sum(count for status, count in tally.statuses.items() if status not in (200, 429))
    print(f"responses by status: {statuses or 'none'}; transport errors: {dict(tally.failures) or 0}")
    print(f"errors other than 429: {errors + sum(tally.failures.values())}")
    print(f"server RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after {done} requests "
          f"({rss_after - rss_before:+.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="Concurrent clients (threads).")
    parser.add_argument("--requests", type=int, default=200, help="Requests per round.")
    parser.add_argument("--duration", type=float, default=120.0, help="Stop a round after this many seconds.")
    parser.add_argument("--rounds", type=int, default=1, help="Rounds of --requests each, RSS taken after each.")
    parser.add_argument("--image-share", type=float, default=0.25, help="Share of requests with an image (0-1).")
    parser.add_argument("--model", default="test-mimo-unet", help="Zoo model the server runs.")
    parser.add_argument("--weights", type=Path, default=None, help="Weights (default: random tiny weights).")
    parser.add_argument("--workers", type=int, default=1, help="Restoration workers (CNAPS_SERVER__WORKERS).")
    parser.add_argument("--queue", type=int, default=4, help="Restoration queue size (CNAPS_SERVER__QUEUE_SIZE).")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="Where restorations run (CNAPS_RESTORE__BACKEND).")
    parser.add_argument("--ray-workers", type=int, default=1, help="With --backend ray: worker actors.")
    parser.add_argument("--ray-cpus", type=float, default=1.0, help="With --backend ray: CPUs each worker reserves.")
    parser.add_argument("--image-size", default="64x48", help="Width x height of the request images.")
    parser.add_argument("--home", type=Path, default=None, help="CNAPS_HOME for the server (default: a temp "
                                                                 "folder; reuse one to skip the index build).")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds one request may take.")
    parser.add_argument("--startup", type=float, default=300.0, help="Seconds to wait for the server and warm-up.")
    args = parser.parse_args()
    if not (1 <= args.clients <= 64 and 1 <= args.requests <= 10_000 and 0 < args.duration <= 3600
            and 0 <= args.image_share <= 1 and 1 <= args.rounds <= 20 and 1 <= args.ray_workers <= 16):
        raise SystemExit("keep --clients 1-64, --requests 1-10000, --duration under an hour, --image-share 0-1, "
                         "--rounds 1-20, --ray-workers 1-16")
    try:
        size = tuple(int(part) for part in args.image_size.lower().split("x"))
        assert len(size) == 2 and all(16 <= side <= 4096 for side in size)
    except (ValueError, AssertionError):
        raise SystemExit(f"--image-size takes WIDTHxHEIGHT, each 16-4096, e.g. 256x192; got {args.image_size!r}")

    with tempfile.TemporaryDirectory(prefix="cnaps-load-") as scratch:
        scratch_path = Path(scratch)
        if args.weights is None:
            if args.model != "test-mimo-unet":
                raise SystemExit("pass --weights for a model other than test-mimo-unet")
            args.weights = tiny_weights(scratch_path)
        home = args.home or scratch_path / "home"
        port = free_port()
        base = f"http://{HOST}:{port}"
        log = scratch_path / "server.log"
        server = start_server(args, home, port, log)
        try:
            wait_ready(base, server, log, args.startup)
            images = small_images(size=size)
            with httpx.Client() as client:  # warm-up: builds the index, loads the network
                for ticket, share in ((0, 0.0), (1, 1.0)):
                    kind, response = ask(client, base, ticket, images, share, args.startup)
                    if response.status_code != 200:
                        raise SystemExit(f"warm-up {kind} request failed: {response.status_code} {response.text}")
            rss = [rss_mb(server.pid)]
            for _ in range(args.rounds):  # RSS after each round: a leak keeps growing, warm-up growth levels off
                tally, elapsed = drive(base, args, images)
                rss.append(rss_mb(server.pid))
                report(tally, elapsed, rss[-2], rss[-1], args)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        print(f"server RSS by round (MB): {' -> '.join(f'{value:.0f}' for value in rss)}")
        server_errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
        print(f"server log: {len(server_errors)} error line(s)" + (f", first: {server_errors[0]}" if server_errors
                                                                     else ""))


if __name__ == "__main__":
    main()
