"""The README's first command: `qbo-ingest demo` on an embedded PostgreSQL and the emulator."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import psycopg

from qbo_ingest.apps import demo
from qbo_ingest.catalogue import get
from qbo_ingest.local import postgres as embedded_db
from qbo_ingest.local.emulator import Emulator, EmulatorConfig
from qbo_ingest.windows import day_window


def test_demo_loads_every_entity_and_prints_status(capsys):
    # not pytest's tmp_path: its 0700 parents keep the server's own user from stopping it at exit
    tmp_path = Path(tempfile.mkdtemp(prefix="qbo-demo-test-"))
    tmp_path.chmod(0o755)  # as root the server's system user must traverse it (nothing is chmodded for us)
    try:
        assert demo.run(fecha_inicio="2026-11-01", fecha_fin="2026-11-10", data_dir=str(tmp_path / "pg"))
        out = capsys.readouterr().out
        assert "ledger by entity" in out and "connection URL: postgresql://" in out
        server = embedded_db.start(tmp_path / "pg")
        # same seed and profile as the demo: the emulator's ground truth
        emu = Emulator(EmulatorConfig(seed=1, profile="demo", data_end=demo.DEMO_DATA_END))
        start, end = day_window(date(2026, 11, 1)).start, day_window(date(2026, 11, 10)).end
        with psycopg.connect(embedded_db.url_of(server)) as conn:
            for name in demo.DEMO_ENTITIES:
                table = get(name).qualified_table
                got = {r[0]: r[1] for r in conn.execute(f"SELECT id, last_updated_at FROM {table}")}
                assert got == emu.truth(name, start, end), name
    finally:  # the demo leaves its server up on purpose: stop it here
        if (tmp_path / "pg" / "postmaster.pid").exists():
            subprocess.run(shlex.split(embedded_db.stop_command(tmp_path / "pg")), capture_output=True, timeout=60)
