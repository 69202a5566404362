#!/usr/bin/env bash
# Creates (or reuses) a virtual environment keyed by the dependency files and prints its path.
# Usage: scripts/bootstrap.sh EXTRAS   (e.g. "dev,mage" for tests (dev includes local), "local" for the demo)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
extras="${1:-}"
py="$(command -v python3.11 || command -v python3)"
# Keyed by the dependency lists only, so editing tool settings in pyproject.toml reuses the venv.
key="$("$py" - "$root/pyproject.toml" "$extras" <<'PY' | sha256sum | cut -c1-16
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(sorted(p["dependencies"]), sorted((k, sorted(v)) for k, v in p.get("optional-dependencies", {}).items()), sys.argv[2], sys.version)
PY
)"
cache="${QBO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qbo-ingest}"
venv="${QBO_VENV:-$cache/venv-${extras//,/-}-$key}"
spec="$root"
[ -n "$extras" ] && spec="$root[$extras]"
if [ ! -f "$venv/.complete" ]; then
  echo "bootstrap: creating $venv (first run installs dependencies; mage-ai takes a few minutes)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q "setuptools>=68,<71" wheel >&2
  "$venv/bin/python" -m pip install -q "$spec" >&2
  touch "$venv/.complete"
fi
# The checkout may have moved (fresh clone in CI): point the package at this checkout.
"$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$root" >&2
echo "$venv"
