"""DuckDB spills beyond ``memory_limit`` into the folder ``cx run`` gives it, even when that folder's
parents do not exist yet (a run's ``work/spill`` is only made when something spills into it).

A 10M-customer run failed here after 12 minutes of validation: the clean tables were the first
query that spilled, and DuckDB creates its temp folder but not the folder's parents.
"""

from __future__ import annotations

import os

from cxlib.ingest.read import TEMP_DIRECTORY_ENV, connect
from cxlib.params import EngineSpec

# About 100 MB of rows to sort under a 32 MB limit: the sort must spill.
SPILLING = "CREATE TEMP TABLE s AS SELECT hash(range) AS h, range AS r FROM range(6000000) ORDER BY h"


def _spills(con) -> int:
    con.raw_sql(SPILLING)
    return con.raw_sql("SELECT count(*) FROM s").fetchone()[0]


def test_spills_into_a_folder_whose_parents_are_missing(tmp_path):
    spill = tmp_path / "staging" / "work" / "spill" / "cx"
    con = connect(EngineSpec(memory_limit="32MB", threads=1), temp_directory=spill)
    assert _spills(con) == 6_000_000
    assert spill.is_dir()
    con.disconnect()


def test_kernels_spill_into_their_own_folder_under_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv(TEMP_DIRECTORY_ENV, str(tmp_path / "work" / "spill"))
    con = connect(EngineSpec(memory_limit="32MB", threads=1))
    assert _spills(con) == 6_000_000
    assert (tmp_path / "work" / "spill" / f"pid-{os.getpid()}").is_dir()
    con.disconnect()
