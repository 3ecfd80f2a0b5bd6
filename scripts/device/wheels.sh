#!/usr/bin/env bash
# Run HERE (not on the device machine): fetch the wheels the device machine lacks into .whl/ (git-ignored), for
# its Python 3.12. Its image has torch, numpy, pillow, safetensors, typer, rich, pytest, hypothesis, scikit-image
# and matplotlib, but not pydantic or pydantic-settings, which tools/restoration and the tests import.
# Then pass carry=[".whl"] to every device run that uses scripts/device/*.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .whl && mkdir -p .whl
wanted=()
for name in pydantic pydantic-core pydantic-settings annotated-types typing-inspection python-dotenv; do
    wanted+=("$name==$(python -c "import importlib.metadata as m; print(m.version('$name'))")")
done
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${wanted[@]}"
ls .whl
