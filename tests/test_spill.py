"""DuckDB spills beyond ``memory_limit`` into the folder ``cx run`` gives it, even when that folder's
parents do not exist yet (a run's ``work/spill`` is only made when something spills into it).

A 10M-customer run failed here after 12 minutes of validation: the clean tables were the first
query that spilled, and DuckDB creates its temp folder but not the folder's parents.
"""

from __future__ import annotations

import os

import pytest

from cxlib.errors import ParamsError
from cxlib.ingest.memory import MEMORY_SHARE_ENV
from cxlib.ingest.read import TEMP_DIRECTORY_ENV, connect
from cxlib.params import EngineSpec, load_params

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


def _limit_mib(con) -> float:
    text = con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
    value, unit = text.split()
    return float(value) * {"MiB": 1, "GiB": 1024}[unit]


def test_an_explicit_memory_limit_is_the_runs_budget_split_among_its_sections(tmp_path, monkeypatch):
    """Two sections at once with memory_limit 2GB get 1 GB each, as the default 60% is split."""
    monkeypatch.delenv(MEMORY_SHARE_ENV, raising=False)
    alone = _limit_mib(connect(EngineSpec(memory_limit="2GB"), temp_directory=tmp_path))
    default_alone = _limit_mib(connect(EngineSpec(), temp_directory=tmp_path))
    monkeypatch.setenv(MEMORY_SHARE_ENV, "2")  # what cx run sets for its kernels
    shared = _limit_mib(connect(EngineSpec(memory_limit="2GB"), temp_directory=tmp_path))
    default_shared = _limit_mib(connect(EngineSpec(), temp_directory=tmp_path))
    assert shared == 1e9 // 2**20 and alone == pytest.approx(2e9 / 2**20, abs=103)  # DuckDB shows one decimal of GiB
    assert default_shared == pytest.approx(default_alone / 2, abs=103)


def test_a_memory_limit_that_is_not_a_size_is_a_params_error(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("run_id: r\nas_of: 2026-09-30\ndata: {customers: c.csv, interactions: i.csv}\n"
                      "engine: {memory_limit: lots}\n")
    with pytest.raises(ParamsError, match=r"engine\.memory_limit.*'lots' is not a memory size.*GiB"):
        load_params(params)
