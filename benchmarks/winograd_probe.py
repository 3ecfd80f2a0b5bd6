"""Would Winograd 3x3 convolutions speed up MIMO-UNet on this CPU? One layer per stage, against oneDNN.

    PYTHONPATH=. python benchmarks/winograd_probe.py [--threads 2] [--repeats 3]

A probe, not a code path: cnaps does not use it. Winograd F(4x4, 3x3) computes each 4x4 output tile from a 6x6
input tile with 36 multiplications per channel pair instead of 144, at the price of an input transform
(B^T d B), an output transform (A^T m A) and the filter transform (G g G^T, once). Here the transforms are small
matrix products around one batched matrix product, in eager PyTorch, over chunks of tile rows. The table gives
the median time of one 3x3 convolution (C in, C out, bias) at the size each MIMO-UNet stage runs on a 720p frame,
for oneDNN's NHWC convolution and for the Winograd version at several chunk heights, and the largest difference
between the two relative to the output's range.

Matrices: Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), F(4x4, 3x3).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

B_T = torch.tensor([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=torch.float64)
G = torch.tensor([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=torch.float64)
A_T = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                   dtype=torch.float64)
STAGES = ((32, 720, 1280), (64, 360, 640), (128, 180, 320))  # channels, height, width of each stage at 720p


def filter_transform(weight: torch.Tensor) -> torch.Tensor:
    """(K, C, 3, 3) -> (36, C, K): G g G^T for every filter, laid out for the batched product."""
    u = torch.einsum("ai,kcij,bj->abck", G, weight.double(), G)
    return u.reshape(36, weight.shape[1], weight.shape[0]).float().contiguous()


def winograd_conv(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor, rows: int) -> torch.Tensor:
    """3x3 convolution, padding 1, of an NHWC-contiguous (channels_last) x, `rows` tile rows at a time."""
    n, c, h, w = x.shape
    k = u.shape[2]
    tiles_h, tiles_w = -(-h // 4), -(-w // 4)
    padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 4 * tiles_w + 1 - w, 1, 4 * tiles_h + 1 - h))  # N, H+, W+, C
    stride = padded.stride()
    b_t, a_t = B_T.float(), A_T.float()
    out = x.new_empty((n, 4 * tiles_h, 4 * tiles_w, k))
    for top in range(0, tiles_h, rows):
        r = min(rows, tiles_h - top)
        # (6, 6, N, r, tiles_w, C): the 6x6 input tile of every output tile, a strided view of the padded input
        d = padded.as_strided((6, 6, n, r, tiles_w, c),
                              (stride[1], stride[2], stride[0], 4 * stride[1], 4 * stride[2], stride[3]),
                              padded.storage_offset() + 4 * top * stride[1])
        count = n * r * tiles_w * c
        v = torch.matmul(b_t, (b_t @ d.reshape(6, 6 * count)).view(6, 6, count)).view(36, n * r * tiles_w, c)
        m = torch.bmm(v, u)  # (36, tiles, K)
        cells = n * r * tiles_w * k
        y = torch.matmul(a_t, (a_t @ m.view(6, 6 * cells)).view(4, 6, cells)).view(4, 4, n, r, tiles_w, k)
        out.view(n, tiles_h, 4, tiles_w, 4, k)[:, top:top + r].copy_(y.permute(2, 3, 0, 4, 1, 5))
    return (out[:, :h, :w] + bias).permute(0, 3, 1, 2)


def median_seconds(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    chunks = (None, 16, 4, 1)
    heads = " | ".join(f"Winograd, {chunk or 'all'} rows" for chunk in chunks)
    print(f"| channels, size | oneDNN NHWC | {heads} | max rel. diff |")
    print("|---" * (len(chunks) + 3) + "|")
    with torch.inference_mode():
        for channels, height, width in STAGES:
            x = torch.randn(1, channels, height, width).contiguous(memory_format=torch.channels_last)
            weight, bias = torch.randn(channels, channels, 3, 3) * 0.05, torch.randn(channels)
            u = filter_transform(weight)
            reference = F.conv2d(x, weight, bias, padding=1)
            diff = float((winograd_conv(x, u, bias, 4) - reference).abs().max() / reference.abs().max())
            onednn = median_seconds(lambda: F.conv2d(x, weight, bias, padding=1), args.repeats)
            cells = []
            for chunk in chunks:
                seconds = median_seconds(lambda: winograd_conv(x, u, bias, chunk or -(-height // 4)), args.repeats)
                cells.append(f"{seconds * 1000:.0f} ms ({onednn / seconds:.2f}x)")
            gflops = 2 * 9 * channels * channels * height * width / onednn / 1e9
            print(f"| {channels}, {width}x{height} | {onednn * 1000:.0f} ms ({gflops:.0f} GFLOP/s) | "
                  f"{' | '.join(cells)} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
