"""`cnaps restore` and `cnaps train`: the restoration commands. They parse arguments and print; `tools.restore` and
`tools.restoration.train` decide everything."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from agent.cli_options import RecordFormat


def train(
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoint.pt and log.jsonl."),
    steps: int = typer.Option(..., "--steps", help="Total optimizer steps of the whole run."),
    network: str = typer.Option("MIMO-UNet", "--network", help="'MIMO-UNet', 'MIMO-UNet+' or 'test-mimo-unet'."),
    batch: int = typer.Option(8, "--batch", help="Images per step."),
    crop: int = typer.Option(128, "--crop", help="Training crop edge (multiple of 4)."),
    seed: int = typer.Option(0, "--seed", help="Fixes initialisation, data and degradations."),
    recipe: str = typer.Option("users", "--recipe", help="Degradation recipe."),
    device: str = typer.Option("auto", "--device", help="'auto', 'cpu' or 'cuda'."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Checkpoint and stop after this long."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write fp16 .safetensors here when finished."),
) -> None:
    """Train MIMO-UNet on synthetic or real-photo degradations (--recipe; more options: python -m
    tools.restoration.train --help)."""
    import json

    from tools.restoration import train as training
    from tools.restoration.training_config import make_config

    config = make_config(out=out, steps=steps, network=network, batch=batch, crop=crop, seed=seed,
                         recipe=recipe, device=device, max_minutes=max_minutes)
    _, closing = training.run(config, resume, export, on_event=lambda event: print(json.dumps(event), flush=True))
    print(closing)


def restore(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="An image file, or a folder of images."),
    output_path: Path = typer.Argument(..., metavar="OUTPUT", help="Output file, or a folder when INPUT is one."),
    scale: int = typer.Option(1, "--scale", "-s", help="Enlarge 1-8 times (Lanczos) before restoring."),
    model: str = typer.Option("MIMO-UNet", "--model", "-m", help="Zoo model id, e.g. Deblur-MIMO-UNet-RealBlur."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w",
                                           help="Weights file (default: $CNAPS_WEIGHTS_DIR, then project weights)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    tile: Optional[str] = typer.Option(None, "--tile", help="auto, none, or a tile edge in pixels."),
    precision: Optional[str] = typer.Option(None, "--precision", help="auto, fp32, fp16 or bf16."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="Reference image (folder for a folder) for "
                                                                   "PSNR/SSIM."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
    output_format: RecordFormat = typer.Option(RecordFormat.text, "--format", "-f",
                                               help="text or json (a PSNR is null when output and reference are "
                                                    "identical)."),
) -> None:
    """Restore (deblur) an image or a folder of images with MIMO-UNet; print what ran and how the image changed."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from agent.errors import InputFileError
    from tools.restore import plan_batch, restore_files

    plan = plan_batch(input_path, output_path, model, scale, overwrite=overwrite, compare=compare, weights=weights,
                      device=device, precision=precision, tile=tile)
    console = Console(stderr=True)

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    records, failures = [], []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    quiet = output_format is RecordFormat.json or not console.is_terminal
    with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
        files = bar.add_task("images", total=len(plan.pairs))
        tiles = bar.add_task("tiles", total=None, visible=False)
        current = {"name": ""}

        def on_start(source: Path) -> None:
            current["name"] = source.name
            bar.update(files, description=source.name)

        def on_tile(done: int, total: int) -> None:
            bar.update(tiles, completed=done, total=total, visible=total > 1)

        try:
            for result in restore_files(plan, scale, overwrite=overwrite, compare=compare, on_start=on_start,
                                        progress=on_tile):
                if result.reference_note:
                    say(result.reference_note)
                if result.skipped:
                    failures.append(f"{result.source.name}: {result.skipped}")
                    say(f"skipped {result.source.name}: {result.skipped}")
                    continue
                records.append((result.run, result.quality))
                bar.update(files, advance=1)
                bar.update(tiles, visible=False, completed=0)
                if output_format is not RecordFormat.json:
                    _print_restoration(result.run, result.quality)
        except KeyboardInterrupt:
            say(f"interrupted: {len(records)} finished image(s) kept; {current['name']} was not written")
            raise
    if output_format is RecordFormat.json:
        import json

        print(json.dumps([{"record": r.model_dump(mode="json"), "quality": q.model_dump(mode="json")}
                          for r, q in records], indent=2))
    if failures:
        raise InputFileError(f"{len(failures)} of {len(plan.pairs)} images failed ({failures[0]}): fix or remove them")


def _print_restoration(run, quality) -> None:
    weights = run.weights
    print(f"{run.input_path} -> {run.image_path}")
    print(f"  size: {run.input_size[0]}x{run.input_size[1]} -> {run.output_size[0]}x{run.output_size[1]}"
          f"{f' ({run.resize})' if run.resize else ''}")
    print(f"  model: {run.model_id} (network {run.network})")
    print(f"  weights: {weights.file} [{weights.provenance}] sha256 {weights.sha256[:16]}")
    print(f"    {weights.description}")
    tiles = f"{run.tiles} tiles of {run.tile_size} px" if run.tile_size else "whole image"
    print(f"  device: {run.device}, {run.precision}, {tiles}, {run.seconds:.2f} s"
          f"{f' on Ray worker {run.worker}' if run.backend == 'ray' else ''}")
    if quality.reference:
        print(f"  vs {quality.reference}: PSNR(Y) {quality.psnr_y:.2f} dB (input {quality.input_psnr_y:.2f} dB), "
              f"SSIM(Y) {quality.ssim_y:.4f}")
    print(f"  sharpness (variance of Laplacian): input {quality.sharpness_input:.1f} -> "
          f"output {quality.sharpness_output:.1f}")
    for note in run.notes:
        print(f"  note: {note}")
