#!/usr/bin/env bash
# dbt (the `analytics` extra of pyproject.toml: dbt-postgres + dbt-core) in its own venv, cached under
# ~/.cache/qbo-ingest/ keyed by that requirement list; prints the `dbt` binary's path. It does not co-install
# into the dev/mage venv (see the comment on the extra). `qbo-ingest models build` finds dbt next to its own
# interpreter or on PATH: scripts/test appends this venv's bin to PATH.
# Exit 75 when PyPI cannot be reached (the dbt tests then fail and say so), 1 on any other failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$(command -v python3.11 || command -v python3)"
reqs="$("$py" - "$root/pyproject.toml" <<'PY'
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["analytics"]))
PY
)"
key="$(printf '%s %s' "$reqs" "$("$py" -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)"
cache="${QBO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qbo-ingest}"
venv="$cache/venv-dbt-$key"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  log="$(mktemp)"
  mapfile -t args <<<"$reqs"
  if ! "$venv/bin/python" -m pip install -q "${args[@]}" >"$log" 2>&1; then
    if grep -qiE 'NewConnectionError|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ProxyError|Max retries exceeded' "$log"; then
      echo "dbt.sh: PyPI is unreachable, cannot install dbt" >&2
      rm -f "$log"; rm -rf "$venv"
      exit 75
    fi
    cat "$log" >&2; rm -f "$log"; rm -rf "$venv"
    exit 1
  fi
  rm -f "$log"
  touch "$venv/.complete"
fi
"$venv/bin/dbt" --version >/dev/null
echo "$venv/bin/dbt"
