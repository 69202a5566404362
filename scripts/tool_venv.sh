# Sourced by scripts/compose.sh and scripts/dbt.sh: a tool in its own venv under ~/.cache/qbo-ingest/,
# keyed by its requirement text and the interpreter, installed once.
#   tool_venv NAME PYTHON KEYTEXT PIP-INSTALL-ARGS...   -> prints the venv path
# Exit 75 when PyPI cannot be reached (the callers' tests then say so), 1 on any other install failure.
tool_venv() {
  local name="$1" py="$2" keytext="$3"
  shift 3
  local key cache venv log
  key="$(printf '%s %s' "$keytext" "$("$py" -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)"
  cache="${QBO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qbo-ingest}"
  venv="$cache/venv-$name-$key"
  if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    mkdir -p "$cache"
    "$py" -m venv "$venv"
    log="$(mktemp)"
    if ! "$venv/bin/python" -m pip install -q "$@" >"$log" 2>&1; then
      if grep -qiE 'NewConnectionError|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ProxyError|Max retries exceeded' "$log"; then
        echo "$name: PyPI is unreachable, cannot install $*" >&2
        rm -f "$log"; rm -rf "$venv"
        exit 75
      fi
      cat "$log" >&2; rm -f "$log"; rm -rf "$venv"
      exit 1
    fi
    rm -f "$log"
    touch "$venv/.complete"
  fi
  echo "$venv"
}
