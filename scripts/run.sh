#!/usr/bin/env bash
# The main job: set up .venv if needed, build the index from seeds/ if missing, open the chat UI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
exec .venv/bin/rag serve "$@"
