"""Score per module from mutmut's results, the survivors, and the reasons of those judged equivalent.

Run by scripts/mutation after `mutmut run`. A module passes when >= 85 % of its mutants are killed
(a timeout counts as killed: the mutant was noticed). Survivors listed in mutation_equivalents.toml are
printed with their reason; any other survivor is printed with its diff, to be killed by a new test.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import tomllib

THRESHOLD = 85.0
KILLED = {"killed", "timeout", "caught by type check"}
HERE = Path(__file__).resolve().parent


def module_of(key: str) -> str:
    m = re.match(r"^([\w.]+?)\.x(?:_|ǁ)", key)
    return m.group(1) if m else "?"


def added_lines(mutmut: str, key: str) -> str:
    diff = subprocess.run([mutmut, "show", key], capture_output=True, text=True).stdout
    return "\n".join(d[1:] for d in diff.splitlines() if d.startswith("+") and not d.startswith("+++"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mutmut", default="mutmut")
    ap.add_argument("--no-diffs", action="store_true")
    args = ap.parse_args(argv)
    out = subprocess.run([args.mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True)
    status: dict[str, str] = {}
    for line in out.stdout.splitlines():
        line = line.strip()
        if ": " in line:
            key, st = line.rsplit(": ", 1)
            status[key] = st
    if not status:
        print("no mutmut results: run scripts/mutation first", file=sys.stderr)
        return 2
    listed = tomllib.loads((HERE / "mutation_equivalents.toml").read_text()).get("mutants", {})
    equivalents: dict[str, str] = {}
    mismatched: list[str] = []
    for key, entry in listed.items():
        # excused only if it is the mutant the reason was written for (numbers shift with the source)
        surviving = key in status and status[key] not in KILLED
        if surviving and entry["mutated"] not in added_lines(args.mutmut, key):
            mismatched.append(key)
            continue
        equivalents[key] = entry["reason"]
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for key, st in sorted(status.items()):
        mod = module_of(key)
        by_module[mod][st] += 1
        if st not in KILLED:
            survivors[mod].append(key)
    print(f"{'module':42} {'killed':>13} {'score':>7}  {'+equivalent':>11}")
    failing = []
    for mod, cnt in sorted(by_module.items()):
        total = sum(cnt.values())
        killed = sum(n for s, n in cnt.items() if s in KILLED)
        eq = sum(1 for k in survivors[mod] if k in equivalents)
        score = 100 * killed / total
        flag = "" if score >= THRESHOLD else "  < 85 %"
        if score < THRESHOLD:
            failing.append(mod)
        print(f"{mod:42} {killed:5}/{total:<7} {score:6.1f}%  {100 * (killed + eq) / total:10.1f}%{flag}")
    for mod in sorted(survivors):
        if not survivors[mod]:
            continue
        print(f"\n== survivors in {mod}")
        for key in survivors[mod]:
            if key in equivalents:
                print(f"  {key} [{status[key]}] equivalent: {equivalents[key]}")
                continue
            print(f"  {key} [{status[key]}]")
            if not args.no_diffs:
                diff = subprocess.run([args.mutmut, "show", key], capture_output=True, text=True).stdout
                for d in diff.splitlines():
                    if d.startswith(("+", "-")) and not d.startswith(("+++", "---")):
                        print(f"      {d}")
                if key in mismatched:
                    print("      (listed as equivalent, but its diff is not the one explained: review the entry)")
    stale = sorted(k for k in equivalents if k not in status or status[k] in KILLED)
    if stale:
        print("\nequivalents no longer surviving (remove from mutation_equivalents.toml): " + ", ".join(stale))
    if failing:
        print(f"\nbelow {THRESHOLD:.0f} %: {', '.join(failing)}")
        return 1
    print(f"\nevery module >= {THRESHOLD:.0f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
