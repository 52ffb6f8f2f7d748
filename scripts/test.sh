#!/usr/bin/env bash
# The whole test suite: set up .venv if needed, lint, then run pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
