"""Items 15-17 of issue 13 (inputs and one-line errors), through the real CLI: malformed values are one
`error:` line and exit 2 before anything is touched (no minutes of retries), and a wrong numeric realm
stops the run in the preflight, naming QBO_REALM_ID, with no ledger row written."""

from __future__ import annotations

import time

import pytest
from cx_support import base_env, run_cli, stack

ENV = {"QBO_CLIENT_ID": "x", "QBO_CLIENT_SECRET": "y", "QBO_REFRESH_TOKEN": "z", "QBO_REALM_ID": "123",
       "QBO_ENTORNO": "sandbox", "QBO_DATABASE_URL": "postgresql://u@127.0.0.1:1/db"}
BF = ["backfill", "Invoice", "--no-progress"]
FULLWIDTH_DAY = "\uff12\uff10\uff12\uff14-\uff10\uff13-\uff10\uff11"  # 2024-03-01 in fullwidth digits

CASES = [
    ("iso-week-date", [*BF, "--from", "2024-W10-5", "--to", "2024-03-08"], {},
     "fecha_inicio='2024-W10-5' is not a date"),
    ("fullwidth-date", [*BF, "--from", FULLWIDTH_DAY, "--to", "2024-03-08"], {}, "is not a date"),
    ("year-0001", [*BF, "--from", "0001-01-01", "--to", "0001-01-02"], {}, "is before 2000-01-01"),
    ("reversed-backfill", [*BF, "--from", "2024-03-05", "--to", "2024-03-01"], {}, "is before fecha_inicio"),
    ("reversed-retry", ["retry-failed", "Invoice", "--from", "2024-03-05", "--to", "2024-03-01"], {},
     "--to (2024-03-01) is before --from (2024-03-05)"),
    ("reversed-status", ["status", "Invoice", "--from", "2024-03-05", "--to", "2024-03-01"], {},
     "--to (2024-03-01) is before --from (2024-03-05)"),
    ("fullwidth-realm", [*BF, "--from", "2024-03-01", "--to", "2024-03-01"], {"QBO_REALM_ID": "\uff11\uff12\uff13"},
     "QBO_REALM_ID="),
    ("arabic-indic-realm", [*BF, "--from", "2024-03-01", "--to", "2024-03-01"], {"QBO_REALM_ID": "\u0661\u0662\u0663"},
     "QBO_REALM_ID="),
    ("realm-zero", [*BF, "--from", "2024-03-01", "--to", "2024-03-01"], {"QBO_REALM_ID": "0"}, "QBO_REALM_ID='0'"),
    ("arabic-indic-port", [*BF, "--from", "2024-03-01", "--to", "2024-03-01"],
     {"QBO_DATABASE_URL": "<unset>", "POSTGRES_HOST": "127.0.0.1", "POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p",
      "POSTGRES_PORT": "\u0665\u0664\u0663\u0662"}, "POSTGRES_PORT="),
    ("ipv6-unclosed", [*BF, "--from", "2024-03-01", "--to", "2024-03-01"], {"QBO_API_BASE_URL": "http://[::1"},
     "QBO_API_BASE_URL='http://[::1' is invalid"),
    ("url-port-99999", [*BF, "--from", "2024-03-01", "--to", "2024-03-01"],
     {"QBO_API_BASE_URL": "http://127.0.0.1:99999"}, "QBO_API_BASE_URL='http://127.0.0.1:99999' is invalid"),
    ("emulator-profile", ["emulator", "--profile", "nope"], {}, "Unknown profile 'nope'"),
    ("emulator-port", ["emulator", "--port", "99999"], {}, "99999 is not in the range"),
    ("auth-port", ["auth", "--port", "99999"], {}, "99999 is not in the range"),
]


@pytest.mark.parametrize(("argv", "env", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_values_are_one_error_line_at_once(argv: list[str], env: dict[str, str], pattern: str) -> None:
    t0 = time.monotonic()
    out = run_cli(argv, base_env(**{**ENV, **env}), timeout=60)
    took = time.monotonic() - t0
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], out.stderr
    assert took < 15, took  # refused up front, not after retries


def test_a_wrong_numeric_realm_stops_in_the_preflight_naming_the_variable(pg_url: str) -> None:
    with stack(pg_url) as st:
        out = st.cli("backfill", "Invoice", "--fecha-inicio", "2025-03-01", "--fecha-fin", "2025-03-10",
                     "--no-progress", QBO_REALM_ID="4620816365000000999")
        assert out.returncode == 2, out.stdout + out.stderr
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("error: QBO_REALM_ID=4620816365000000999 is not a company these credentials "
                               "can read (HTTP 403"), out.stderr
        assert "Traceback" not in out.stderr
        with st.admin() as admin:
            rows = admin.execute("SELECT count(*) FROM qbo_ingest.ledger").fetchone()
        assert rows == (0,)
