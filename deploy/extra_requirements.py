#!/usr/bin/env python3
"""Print the requirements of one optional-dependency group (extra) of qbo-ingest, one per line, so an image
installs exactly what pyproject.toml declares: the Mage image's dbt venv gets the `analytics` extra this way,
never from a copied list.

    python deploy/extra_requirements.py analytics pyproject.toml > dbt-requirements.txt

pyproject.toml is read with tomllib (Python 3.11+) or tomli. Where neither exists (the upstream Mage image
may run Python 3.10 without tomli) the installed qbo-ingest's metadata is read instead: its
`Requires-Dist: ...; extra == "analytics"` lines are that same list as the build wrote it. scripts/dbt.sh
uses this script too.
"""

from __future__ import annotations

import sys
from pathlib import Path

DIST = "qbo-ingest"


def from_pyproject(path: Path, extra: str) -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    groups = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    if extra not in groups:
        raise SystemExit(f"error: {path} has no extra {extra!r}; valid: {', '.join(groups)}")
    return [str(r) for r in groups[extra]]


def from_requires_dist(lines: list[str], extra: str) -> list[str]:
    """The requirements of `extra` among a distribution's Requires-Dist lines, without their markers."""
    from packaging.requirements import Requirement

    out: list[str] = []
    for line in lines:
        req = Requirement(line)
        if req.marker is not None and req.marker.evaluate({"extra": extra}) \
                and not req.marker.evaluate({"extra": ""}):
            req.marker = None
            out.append(str(req))
    if not out:
        raise SystemExit(f"error: the installed {DIST} declares no requirement for extra {extra!r}")
    return out


def _toml_reader() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in ("tomllib", "tomli"))


def extra_requirements(extra: str, pyproject: Path | None) -> list[str]:
    if pyproject is not None and _toml_reader():
        reqs = from_pyproject(pyproject, extra)
    else:
        from importlib.metadata import requires

        reqs = from_requires_dist(requires(DIST) or [], extra)
    own = [r for r in reqs if r.lower().replace("_", "-").startswith(DIST)]
    if own:  # an extra that pulls qbo-ingest itself would install the whole package into the venv
        raise SystemExit(f"error: extra {extra!r} requires {own[0]}; list its packages directly")
    return reqs


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    print("\n".join(extra_requirements(argv[0], Path(argv[1]) if len(argv) > 1 else None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
