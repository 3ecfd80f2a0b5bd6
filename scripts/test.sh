#!/usr/bin/env bash
# Install cnaps with its test extras (CPU torch pinned) and run the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[test,pdf,train,scale,reference]'
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python3 -m pytest -q "$@"
