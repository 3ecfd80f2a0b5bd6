#!/usr/bin/env bash
# Run ON the device machine: one training chunk of at most 8.5 minutes (issue 4), resuming from the checkpoint the
# previous chunk left on the machine's own disk (/root/cnaps-train; it survives only while the machine stays warm,
# so call again within about 30 s). When the run has finished, the fp16 weights and the log land in $OUT.
#   run(command="bash scripts/device/train.sh MIMO-UNet 6000", carry=[".whl"], timeout_s=600)  # repeat
source "$(dirname "$0")/env.sh"
network="${1:-MIMO-UNet}" steps="${2:-6000}"
name=$(echo "$network" | tr 'A-Z+' 'a-zp')            # MIMO-UNet -> mimo-unet, MIMO-UNet+ -> mimo-unetp
folder="/root/cnaps-train/$name"
resume=(); [ -f "$folder/checkpoint.pt" ] && resume=(--resume)
python3 -m tools.restoration.train --network "$network" --steps "$steps" --batch 32 --crop 256 --seed 0 \
    --out "$folder" --recipe users --bank-size 2048 --bank-tile 320 --workers 12 --val-every 500 \
    --ckpt-every 250 --log-every 50 --max-minutes 8.5 "${resume[@]}" 2>&1 | tee -a "$OUT/train.log"
cp "$folder/log.jsonl" "$OUT/$name-train-log.jsonl"
if tail -n 1 "$folder/log.jsonl" | grep -q '"finished"'; then
    python3 -m tools.restoration.train --out "$folder" --export-only --export "$OUT/$name.safetensors"
fi
