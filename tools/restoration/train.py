"""Train MIMO-UNet on synthetic degradations, in resumable chunks, and export fp16 .safetensors weights.

    # a GPU chunk (repeat with --resume until it prints "finished"; /out/ is git-ignored)
    python -m tools.restoration.train --network MIMO-UNet --steps 6000 --batch 32 --crop 256 --seed 0 \
        --out out/mimo-unet --recipe users --bank-size 2048 --bank-tile 320 --workers 12 --val-every 500 \
        --ckpt-every 250 --log-every 50 --max-minutes 8.5 [--resume] \
        [--export tools/restoration/weights/mimo-unet.safetensors]
    python -m tools.restoration.train --out out/mimo-unet --export-only --export PATH   # export as it stands
    # fine-tune shipped weights (fresh optimizer and schedule; the last CPU run behind the shipped weights)
    python -m tools.restoration.train --network MIMO-UNet --steps 1700 --batch 4 --crop 96 --seed 2 \
        --out out/mimo-unet-ft3 --recipe users --bank-size 512 --bank-tile 128 --bank-refresh 800 --lr 1e-4 \
        --warmup 50 --threads 1 --init tools/restoration/weights/mimo-unet.safetensors --max-minutes 135 \
        --val-every 300 --ckpt-every 100 --log-every 25

`--steps` may change on --resume (the cosine decay follows the new total); the batch, crop, seed, learning rate,
recipe and data settings may not. On a shared CPU use `--threads 1`: OpenMP threads spinning against other
processes made one step 10x slower with 2 threads than with 1 (measured here).

Loss as in the paper: L1 at the three output scales plus 0.1 x L1 between 2-D FFTs. AdamW with linear warm-up
and cosine decay; bf16 autocast and channels_last on CUDA, fp32 on the CPU. Checkpoints (model, optimizer, step,
random-generator states) are written atomically, so a run stopped by `--max-minutes`, a crash or Ctrl-C resumes
exactly where it was: the same batches and degradations follow as in an uninterrupted run.

The loop lives here; its options in `training_config`, validation in `training_validation`, and reading a run's
checkpoint back and exporting it in `training_checkpoint`.

SEE: https://openaccess.thecvf.com/content/ICCV2021/papers/Cho_Rethinking_Coarse-To-Fine_Approach_in_Single_Image_Deblurring_ICCV_2021_paper.pdf
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel

from tools.errors import OutputError, TrainingError, UsageError
from tools.atomic import atomic_write
from tools.restoration import build_model, checkpoint, degrade, synthdata
from tools.restoration.training_checkpoint import CHECKPOINT, check_export_path, export, load_training_checkpoint
from tools.restoration.training_config import TrainConfig, check_resume, make_config
from tools.restoration.training_validation import psnr, validate, validation_pairs

LOG = "log.jsonl"
FFT_WEIGHT = 0.1  # SEE: the paper's loss, L_content + 0.1 * L_MSFR


class TrainResult(BaseModel):
    step: int
    finished: bool
    checkpoint: Path
    last_loss: float | None
    val_psnr: float | None
    val_input_psnr: float | None
    seconds: float


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device '{name}' asked for but CUDA is not available: use --device cpu")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


def mimo_loss(outputs: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """L1 at 1/4, 1/2 and full scale plus 0.1 x L1 between the real FFTs, all in fp32."""
    targets = [F.interpolate(target, scale_factor=0.25, mode="bilinear"),  # (B, 3, H/4, W/4)
               F.interpolate(target, scale_factor=0.5, mode="bilinear"), target]
    content = target.new_zeros(())
    frequency = target.new_zeros(())
    for output, label in zip(outputs, targets):
        output = output.float()
        content = content + F.l1_loss(output, label)
        frequency = frequency + F.l1_loss(torch.view_as_real(torch.fft.rfft2(output)),
                                          torch.view_as_real(torch.fft.rfft2(label)))
    return content + FFT_WEIGHT * frequency


def below_input_db(output: torch.Tensor, start: torch.Tensor, target: torch.Tensor,
                   floor: float = 1e-5) -> torch.Tensor:
    """How many dB each image's output (B, 3, H, W) is below the network's own input in PSNR, 0 where it is not,
    averaged over the batch: the real-photo table's never-worse-than-the-input criterion as a hinge.

    `floor` (an MSE, 50 dB) keeps a clean tile's near-zero input error from making the ratio explode."""
    dims = (1, 2, 3)
    mse_out = (output.float() - target).pow(2).mean(dim=dims)
    mse_in = (start.float() - target).pow(2).mean(dim=dims)
    return F.relu(10 * torch.log10((mse_out + floor) / (mse_in + floor))).mean()


def _finite(model: torch.nn.Module) -> bool:
    """Whether every weight is a finite number (one device sync)."""
    return bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay from lr to min_lr over the remaining steps."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def zero_output_convs(model: torch.nn.Module) -> None:
    """Zero the convolutions that produce the three residual outputs, so each output starts equal to its input."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d) and (name.startswith("feat_extract.5.") or name.startswith("ConvsOut.")):
            torch.nn.init.zeros_(module.weight)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)


def _bank(config: TrainConfig, step: int, device: torch.device) -> torch.Tensor:
    index = step // config.bank_refresh if config.bank_refresh else 0
    tiles = synthdata.build_bank(config.bank_size, config.bank_tile, seed=config.seed * 100_003 + index,
                                 split="train", workers=config.workers, photos=config.photos)
    return synthdata.bank_tensor(tiles, device)


def _load_init(model: torch.nn.Module, path: Path) -> str:
    """Load starting weights strictly into `model`; returns how the run names its start ('file (sha256 ...)')."""
    if not path.is_file():
        raise UsageError(f"--init {path} does not exist: pass a .safetensors or checkpoint file of the same network")
    checkpoint.load_into(model, checkpoint.load_state(path), strict=True, source=str(path))
    return f"{path.name} (sha256 {checkpoint.sha256(path)[:12]})"


def train(config: TrainConfig, resume: bool = False,
          on_event: Callable[[dict], None] | None = None) -> TrainResult:
    """Run (or continue) training until `config.steps` or `config.max_minutes`, checkpointing atomically."""
    started = time.monotonic()
    if config.recipe not in degrade.RECIPES:
        raise UsageError(f"unknown recipe '{config.recipe}': use one of {', '.join(degrade.RECIPES)}")
    if config.crop % 4 or config.crop > config.bank_tile:
        raise UsageError(f"--crop {config.crop} must be a multiple of 4 and at most the bank tile "
                         f"({config.bank_tile}): pick e.g. 128 or 256")
    recipe = degrade.RECIPES[config.recipe]
    if recipe.weights.get("enlarge") and (config.crop % 12 or min(config.crop, 192) % 12):
        raise UsageError(f"--crop {config.crop}: the '{config.recipe}' recipe reduces crops by 2, 3 and 4 exactly, "
                         "so the crop must be a multiple of 12: pick e.g. 96 or 192")
    if config.photos is not None and not Path(config.photos).is_dir():
        raise UsageError(f"--photos {config.photos} is not a folder: pass a folder of photographs")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = Path(config.out)
    path = out / CHECKPOINT
    log_file = out / LOG
    if resume and not path.is_file():
        raise UsageError(f"--resume given but {path} does not exist: start without --resume")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot use {out} as the run folder ({error.strerror or type(error).__name__}): pass a new "
                          "or existing folder you can write to as --out") from None

    torch.manual_seed(config.seed)
    model = build_model(config.network)
    init_from = None  # the weights a fine-tune started from; stored in the checkpoint and the exported metadata
    if config.init is not None and not resume:
        init_from = _load_init(model, Path(config.init))
    elif config.identity_init:
        zero_output_convs(model)
    model = model.to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    step, devices = 0, []
    if resume:
        state = load_training_checkpoint(path)
        check_resume(config, state["config"])
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if cuda and state.get("cuda_rng") is not None:  # MIMO-UNet+'s dropout draws from it
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        step, devices = int(state["step"]), list(state["devices"])
        init_from = state.get("init_from")
    elif path.exists():
        raise UsageError(f"{path} exists: pass --resume to continue that run or choose another --out folder")
    label = device_label(device)
    if label not in devices:
        devices.append(label)

    # Random states as of the last finished step: an interrupted step is replayed exactly on resume.
    def random_states() -> tuple:
        return generator.get_state(), torch.get_rng_state(), torch.cuda.get_rng_state(device) if cuda else None

    rng_states = random_states()

    saved_step = step

    def save() -> bool:
        nonlocal saved_step
        if not _finite(model):
            return False  # never overwrite the last good checkpoint with diverged weights
        saved_step = step
        payload = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                   "optimizer": optimizer.state_dict(), "generator": rng_states[0],
                   "torch_rng": rng_states[1], "cuda_rng": rng_states[2], "step": step, "devices": devices,
                   "init_from": init_from,
                   "config": json.loads(config.model_dump_json())}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda stream: torch.save(payload, stream))
        return True

    def diverged() -> TrainingError:
        emit({"event": "diverged", "last_checkpoint_step": saved_step})
        return TrainingError(
            f"training diverged at step {step} (the loss or the weights are no longer finite); the checkpoint of "
            f"step {saved_step} is kept: start a new run (another --out) with a lower --lr and --init {path} to keep "
            "its progress")

    def emit(event: dict) -> None:
        event = {"step": step, "time": round(time.monotonic() - started, 1), **event}
        # JSON has no NaN or infinity: a non-finite number is written as null.
        event = {key: None if isinstance(value, float) and not math.isfinite(value) else value
                 for key, value in event.items()}
        with open(log_file, "a", encoding="utf-8") as file:
            file.write(json.dumps(event) + "\n")
        if on_event:
            on_event(event)

    runner = torch.compile(model) if (config.compile and cuda) else model
    pairs = validation_pairs(config, device) if config.val_every else None
    bank_index = None
    bank = None
    loss_value = val = val_input = None
    emit({"event": "start", "resume": resume, "device": label, "network": config.network})
    try:
        while step < config.steps:
            if config.max_minutes is not None and time.monotonic() - started > config.max_minutes * 60:
                break
            wanted = step // config.bank_refresh if config.bank_refresh else 0
            if wanted != bank_index:
                bank, bank_index = _bank(config, step, device), wanted
            sharp = synthdata.sample_batch(bank, config.batch, config.crop, generator)
            blurry, _ = degrade.degrade(sharp, generator, recipe)
            if cuda:
                blurry = blurry.contiguous(memory_format=torch.channels_last)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
                outputs = runner(blurry)
            loss = mimo_loss(outputs, sharp)
            if config.guard:
                loss = loss + config.guard * below_input_db(outputs[-1], blurry, sharp)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            step += 1
            rng_states = random_states()
            loss_value = loss.item() if (step % config.log_every == 0 or step == config.steps) else loss_value
            if step % config.log_every == 0 or step == config.steps:
                if not (math.isfinite(loss_value) and _finite(model)):
                    raise diverged()
            if step % config.log_every == 0:
                emit({"event": "loss", "loss": round(loss_value, 5), "lr": learning_rate(config, step - 1)})
            if pairs is not None and (step % config.val_every == 0 or step == config.steps):
                val = validate(model, pairs, cuda)
                val_input = sum(psnr(pairs[0][i:i + 1], pairs[1][i:i + 1]) for i in range(len(pairs[1]))) / len(
                    pairs[1])
                emit({"event": "validation", "psnr": round(val, 3), "input_psnr": round(val_input, 3)})
            if step % config.ckpt_every == 0 and not save():
                raise diverged()
    finally:  # a crash or Ctrl-C keeps the last finished step
        save()
    if saved_step != step:  # the weights went bad after the last check: the run did not reach `step`
        raise diverged()
    finished = step >= config.steps
    emit({"event": "finished" if finished else "paused"})
    return TrainResult(step=step, finished=finished, checkpoint=path, last_loss=loss_value, val_psnr=val,
                       val_input_psnr=val_input, seconds=round(time.monotonic() - started, 1))


def run(config: TrainConfig, resume: bool = False, export_to: Path | None = None, description: str | None = None,
        on_event: Callable[[dict], None] | None = None) -> tuple[TrainResult, str]:
    """Train (one chunk or to the end), export when finished and asked to; returns the result and a closing line.

    The export path is checked first: a run of hours must not end in "cannot write there"."""
    if export_to is not None:
        check_export_path(Path(export_to))
    result = train(config, resume=resume, on_event=on_event)
    if not result.finished:
        return result, f"paused at step {result.step}/{config.steps}: rerun the same command with --resume"
    if export_to is not None:
        export(config.out, export_to, description)
        return result, f"finished {result.step} steps; exported {export_to}"
    return result, f"finished {result.step} steps; export with --export-only --export PATH"


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m tools.restoration.train", description=__doc__.split("\n")[0])
    fields = TrainConfig.model_fields
    for name, field in fields.items():
        flag = "--" + name.replace("_", "-")
        if field.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default,
                                help=field.description)
        elif name in ("steps", "out"):
            parser.add_argument(flag, required=name == "out", default=None, help=field.description)
        else:
            parser.add_argument(flag, default=field.default, help=f"{field.description} (default {field.default})")
    parser.add_argument("--resume", action="store_true", help="Continue the run in --out from its checkpoint.")
    parser.add_argument("--export", type=Path, default=None, help="Export fp16 .safetensors here when finished.")
    parser.add_argument("--export-only", action="store_true", help="Export --out's checkpoint now; do not train.")
    parser.add_argument("--description", default=None, help="Override the exported weights' description.")
    args = parser.parse_args(argv)
    values = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    if args.export_only:
        values.setdefault("steps", 1)
    elif "steps" not in values:
        parser.error("--steps is required")
    return make_config(**values), args


def main(argv: list[str] | None = None) -> int:
    from tools.errors import CnapsError

    try:
        config, args = parse_args(argv)
        if args.export_only:
            if args.export is None:
                raise UsageError("--export-only needs --export PATH")
            print(json.dumps(export(config.out, args.export, args.description), indent=1))
            return 0
        result, closing = run(config, args.resume, args.export, args.description,
                              on_event=lambda event: print(json.dumps(event), flush=True))
        print(result.model_dump_json())
        print(closing)
        return 0
    except CnapsError as error:
        print(f"train: error: {error}")
        return error.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
