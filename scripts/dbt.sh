#!/usr/bin/env bash
# dbt (the `analytics` extra of pyproject.toml: dbt-postgres + dbt-core) in its own venv, cached under
# ~/.cache/qbo-ingest/ keyed by that requirement list; prints the `dbt` binary's path. It does not co-install
# into the dev/mage venv (see the comment on the extra). `qbo-ingest models build` runs QBO_DBT_BIN, else the
# dbt next to its own interpreter, else the one on PATH: scripts/test appends this venv's bin to PATH. The
# requirement list comes from deploy/extra_requirements.py, as in the Mage image's /opt/dbt.
# Exit 75 when PyPI cannot be reached (the dbt tests then fail and say so), 1 on any other failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$(command -v python3.11 || command -v python3)"
reqs="$("$py" "$root/deploy/extra_requirements.py" analytics "$root/pyproject.toml")"
# shellcheck source=scripts/tool_venv.sh
source "$root/scripts/tool_venv.sh"
mapfile -t args <<<"$reqs"
venv="$(tool_venv dbt "$py" "$reqs" "${args[@]}")"
"$venv/bin/dbt" --version >/dev/null
echo "$venv/bin/dbt"
