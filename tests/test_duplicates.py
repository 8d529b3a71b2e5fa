"""The exact-duplicate count (``cxlib.ingest.clean.duplicate_rows``) against pandas, in one part and in many.

Above ``part_rows`` rows the hashes are counted in parts that each fit in memory; equal rows have
equal hashes and so fall in one part, so the count must not depend on the number of parts.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from cxlib.ingest.clean import duplicate_rows


def _interactions(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "customer_id": rng.choice([f"c{i}" for i in range(40)], n),
        "touchpoint": rng.choice(["app", "billing", None], n),
        "csat": pd.array(rng.integers(1, 6, n), dtype="Int64"),
        "ces": rng.choice([1.0, 2.5, np.nan], n),
    })
    df.loc[rng.random(n) < 0.2, "csat"] = pd.NA
    repeats = df.sample(frac=0.3, replace=True, random_state=seed)  # planted exact copies
    return pd.concat([df, repeats], ignore_index=True)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("part_rows", [10**9, 1000, 400])
def test_duplicate_count_equals_pandas_in_any_number_of_parts(seed, part_rows):
    df = _interactions(seed)
    expected = int(df.astype(object).where(df.notna(), None).duplicated().sum())
    assert expected > 0
    assert duplicate_rows(ibis.memtable(df), part_rows=part_rows) == expected
