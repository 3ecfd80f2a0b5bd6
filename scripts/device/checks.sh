#!/usr/bin/env bash
# Run ON the device machine (about 6-8 minutes on an H100): the GPU tests, then the GPU rows of the speed and
# memory benchmarks (issues 3 and 7). Everything it prints is also written to $OUT/checks.log.
#   run(command="bash scripts/device/checks.sh", carry=[".whl"], timeout_s=600)
source "$(dirname "$0")/env.sh"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
    python3 -m pytest -q -m gpu tests/tools/test_engine.py tests/tools/test_train.py -p no:cacheprovider
    python3 benchmarks/restore_speed.py --devices cuda --sizes 1280x720 --networks MIMO-UNet,MIMO-UNet+ \
        --batches 1,8 --repeats 50
    python3 benchmarks/restore_memory.py --device cuda --sizes 1280x720,3000x2000,7740x7740 --networks MIMO-UNet
} 2>&1 | tee "$OUT/checks.log"
