# Sourced by the device scripts (on the device machine): the carried wheels on PYTHONPATH, the repo importable,
# unbuffered output, and $OUT (or ./out/device when run elsewhere) for what comes back.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! python3 -c "import pydantic_settings" 2>/dev/null && compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD"
else
    export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1 CNAPS_HOME=/tmp/cnaps-home HF_HUB_OFFLINE=1
OUT="${OUT:-$PWD/out/device}"
mkdir -p "$OUT"
python3 - <<'PY'
import importlib, sys
missing = [name for name in ("torch", "pydantic", "pydantic_settings", "safetensors", "PIL", "numpy", "pytest",
                             "skimage", "matplotlib") if importlib.util.find_spec(name) is None]
if missing:
    sys.exit(f"missing on this machine: {', '.join(missing)}; run scripts/device/wheels.sh here and carry .whl")
PY
