"""Result files: the contract tables each run writes to ``results/`` (columns fixed by DESIGN.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

RESULT_COLUMNS: dict[str, list[str]] = {
    "metrics": ["period", "touchpoint", "channel", "segment", "metric", "n", "value", "ci_lower", "ci_upper", "suppressed"],
    "retention": ["group", "days", "survival", "ci_lower", "ci_upper", "at_risk"],
    "hazard_ratios": ["model", "term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"],
    "drivers": ["driver", "coefficient", "ci_lower", "ci_upper", "p_value", "importance",
                "importance_ci_lower", "importance_ci_upper", "performance"],
    "impact": ["touchpoint", "exposure_share", "hazard_ratio", "attributable_churn_share",
               "churners_attributable", "revenue_at_risk"],
    "metric_validity": ["metric", "touchpoint", "hazard_ratio_per_sd", "ci_lower", "ci_upper", "concordance_gain"],
}
ALL = "all"  # value of an aggregated dimension in metrics.csv


def check_columns(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the contract columns of result ``name`` (in order).

    Raises ValueError naming missing columns; extra columns are an error too, because
    downstream jobs read these files by position as well as by name.
    """
    expected = RESULT_COLUMNS.get(name)
    if expected is None:
        return df
    missing = [c for c in expected if c not in df.columns]
    extra = [c for c in df.columns if c not in expected]
    if missing or extra:
        raise ValueError(f"result {name!r}: missing columns {missing}, unexpected columns {extra}")
    return df[expected]


def write_result(results_dir: Path, name: str, df: pd.DataFrame) -> Path:
    """Write ``results/<name>.csv`` (contract columns checked), atomically."""
    df = check_columns(name, df)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.csv"
    tmp = path.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False, float_format="%.10g")
    tmp.replace(path)
    return path


def read_result(results_dir: Path, name: str) -> pd.DataFrame | None:
    """Read a result file back, None when the run did not produce it."""
    path = Path(results_dir) / f"{name}.csv"
    return pd.read_csv(path) if path.exists() else None
