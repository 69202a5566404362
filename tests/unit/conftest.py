"""The pure tests run with the process in a non-UTC local time zone west of UTC with a
half-hour offset (America/St_Johns, -03:30/-02:30): no result may depend on
the machine's zone (a stray `astimezone()` without an argument would use it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def local_zone_is_not_utc() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/St_Johns"  # west of UTC: a local midnight UTC falls on the day before
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
