"""How fast the QBO emulator serves 1000-invoice pages of a 100,000-record day (latency off).

Run: `python bench/emulator_pages.py [--pages 60] [--inproc]`. By default the emulator runs in a
separate process (as in the demo, so client and server each get a core); `--inproc` serves it
from a thread of this process (as the tests do). Prints pages/s and MB/s, with and without the
client parsing the JSON.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from datetime import date

import httpx

from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

DAY = date(2024, 3, 10)
OVERRIDES = {"Invoice": {DAY.isoformat(): 100_000}, "Customer": {"2023-01-01": 60},
             "Item": {"2023-01-01": 40}, "Account": {"2023-01-01": 40}, "Term": {"2023-01-01": 5}}


def _config() -> EmulatorConfig:
    return EmulatorConfig(seed=1, profile="empty", profile_overrides=OVERRIDES, throttle=False)


def _serve(conn: object) -> None:
    emu = Emulator(_config())
    srv = serve_in_thread(emu)
    conn.send((srv.base_url, srv.token_url, emu.issue_refresh_token(), emu.cfg.realm_id))  # type: ignore[attr-defined]
    conn.recv()  # type: ignore[attr-defined]  # wait for "stop"
    srv.stop()


def run(pages: int, inproc: bool) -> None:
    srv = None
    proc = None
    if inproc:
        emu = Emulator(_config())
        srv = serve_in_thread(emu)
        base, token_url, rt, realm = srv.base_url, srv.token_url, emu.issue_refresh_token(), emu.cfg.realm_id
    else:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
        proc.start()
        base, token_url, rt, realm = parent.recv()
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            tok = c.post(token_url, data={"grant_type": "refresh_token", "refresh_token": rt},
                         auth=("emu-client-id", "emu-client-secret")).json()["access_token"]
            headers = {"Authorization": f"Bearer {tok}", "Accept": "application/json"}
            where = (f"WHERE MetaData.LastUpdatedTime >= '{DAY}T00:00:00Z' "
                     f"AND MetaData.LastUpdatedTime < '{DAY.replace(day=DAY.day + 1)}T00:00:00Z'")
            t0 = time.perf_counter()
            total = c.get(f"/v3/company/{realm}/query", headers=headers,
                          params={"query": f"SELECT COUNT(*) FROM Invoice {where}"}).json()
            first = time.perf_counter() - t0
            n_rows = total["QueryResponse"]["totalCount"]
            print(f"day {DAY}: {n_rows} invoices live; first request (generates the day) {first:.2f}s")
            for parse in (False, True):
                rates = []
                nbytes = 0
                for _rep in range(3):
                    nbytes = 0
                    t0 = time.perf_counter()
                    for i in range(pages):
                        start = (i * 1000) % max(1, n_rows - 1000) + 1
                        q = (f"SELECT * FROM Invoice {where} ORDERBY MetaData.LastUpdatedTime "
                             f"STARTPOSITION {start} MAXRESULTS 1000")
                        r = c.get(f"/v3/company/{realm}/query", headers=headers,
                                  params={"query": q, "minorversion": 75})
                        r.raise_for_status()
                        nbytes += len(r.content)
                        if parse:
                            assert r.json()["QueryResponse"]["maxResults"] == 1000
                    rates.append(pages / (time.perf_counter() - t0))
                rates.sort()
                label = "client parses JSON" if parse else "client reads bytes"
                print(f"{label}: median {rates[1]:5.1f} pages/s (best {rates[2]:5.1f}, worst {rates[0]:5.1f}) "
                      f"of 1000 invoices, {nbytes / pages / 1e6:.2f} MB/page, "
                      f"{rates[1] * nbytes / pages / 1e6:.1f} MB/s")
            print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    finally:
        if srv is not None:
            srv.stop()
        if proc is not None:
            parent.send("stop")
            proc.join(10)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--inproc", action="store_true", help="serve from a thread of this process")
    args = ap.parse_args(argv)
    mode = "in-process thread" if args.inproc else "separate process"
    print(f"emulator in a {mode}; {args.pages} pages per measurement; python {sys.version.split()[0]}")
    run(args.pages, args.inproc)


if __name__ == "__main__":
    main()
