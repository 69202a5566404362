"""Item 13 of issue 13: as root, starting the embedded PostgreSQL chmods nothing outside its data directory
(not $HOME, not any parent), leaves the data directory 0700, and starts again on the same directory."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest

from qbo_ingest.errors import ConfigError
from qbo_ingest.local import postgres as embedded_db

pytestmark = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="the root-only code path")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_a_private_parent_is_refused_and_left_private() -> None:
    home = Path(tempfile.mkdtemp(prefix="cx-home-"))  # 0700, like root's home
    try:
        with pytest.raises(ConfigError, match=r"cannot reach .*cx-home-.* \(0700\) is closed to other users"):
            embedded_db.start(home / "qbo" / "pgdata")
        assert _mode(home) == 0o700
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_the_data_dir_stays_0700_and_a_second_start_on_it_works() -> None:
    base = Path(tempfile.mkdtemp(prefix="cx-pg-"))
    base.chmod(0o755)
    try:
        before = {p: _mode(p) for p in base.parents}
        for _ in range(2):  # the second `qbo-ingest demo` on the same directory
            server = embedded_db.start(base / "pgdata", cleanup="stop")
            with psycopg.connect(embedded_db.url_of(server)) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            assert _mode(base / "pgdata") == 0o700
            server.cleanup()
        assert {p: _mode(p) for p in base.parents} == before  # nothing above was chmodded
    finally:
        shutil.rmtree(base, ignore_errors=True)
