"""An outsider's attacks on published CX result files, independent of cxlib's suppression code.

The attacker reads only published CSVs (``metrics.csv``, ``retention.csv`` of one or two run
folders) and uses numpy, pandas and scipy. Each attack returns a DataFrame of recovered hidden
quantities: the cell's keys, ``quantity``, ``value`` (what the attacker derives) and, for the LP
attack, ``lower`` / ``upper``.

1. :func:`derived_products` — a hidden quantity published through another metric of the same cell
   (rated = rated_share × volume when CSAT is hidden).
2. :func:`joint_lp` — every roll-up equation of a count quantity (period × touchpoint × channel ×
   segment, each with its ``all`` total) solved together: a hidden cell is recovered exactly when
   the equations determine it (zero row of the null space), and, with ``width``, when its LP
   interval (HiGHS, published cells fixed, non-negativity, 1 for a denominator whose row exists)
   is narrower than ``width``.
3. :func:`run_difference` — two runs of a series: new-period cell = later cumulative ``all``-period
   row − earlier one; and a closed-period cell hidden in one run but shown in the other.
4. :func:`retention_subtraction` — a dropped retention group's ``at_risk`` at a horizon = ``all`` −
   the other groups of its partition (segments, or cohorts).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.linalg import qr
from scipy.optimize import linprog

DIMS = ["period", "touchpoint", "channel", "segment"]
TOTAL = "all"
# quantity -> (metric it is read from, "n" or "x" = round(value × n), lower bound of an existing row)
QUANTITIES = {
    "interactions": ("volume", "n", 1), "rated": ("csat_mean", "n", 1), "csat_sum": ("csat_mean", "x", 0),
    "top2": ("csat_top2", "x", 0), "ces_n": ("ces_mean", "n", 1), "ces_sum": ("ces_mean", "x", 0),
    "resolved_n": ("resolution_rate", "n", 1), "resolved": ("resolution_rate", "x", 0),
    "responses": ("nps_promoters", "n", 1), "promoters": ("nps_promoters", "x", 0),
    "passives": ("nps_passives", "x", 0), "detractors": ("nps_detractors", "x", 0),
}


def read_metrics(run: Path) -> pd.DataFrame:
    m = pd.read_csv(Path(run) / "metrics.csv", dtype={d: str for d in DIMS}, keep_default_na=False,
                    na_values=[""])
    m["suppressed"] = m["suppressed"].astype(str).str.lower().eq("true")
    return m


def quantity_table(metrics: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """One count quantity per cell: the keys, ``value`` (NaN when hidden) and ``hidden``."""
    metric, how, _ = QUANTITIES[quantity]
    rows = metrics[metrics["metric"] == metric]
    value = rows["n"] if how == "n" else (rows["value"] * rows["n"]).round()
    return rows[DIMS].assign(value=value.to_numpy(dtype=float), hidden=rows["suppressed"].to_numpy()).reset_index(drop=True)


def derived_products(metrics: pd.DataFrame) -> pd.DataFrame:
    """Attack 1: rated = rated_share × volume in cells whose CSAT rows are hidden."""
    share = metrics[(metrics["metric"] == "rated_share") & ~metrics["suppressed"]]
    csat = metrics[(metrics["metric"] == "csat_mean") & metrics["suppressed"]]
    j = csat[DIMS].merge(share[[*DIMS, "n", "value"]], on=DIMS)
    return j[DIMS].assign(quantity="rated", value=(j["value"] * j["n"]).round())


def _equations(cells: pd.DataFrame) -> sparse.csr_matrix:
    rows, cols, vals, k = [], [], [], 0
    for dim in DIMS:
        others = [d for d in DIMS if d != dim]
        for _, g in cells.groupby(others, sort=False):
            parent = g.index[g[dim] == TOTAL]
            if len(parent) == 1 and len(g) > 1:
                rows += [k] * len(g)
                cols += list(g.index)
                vals += [1.0 if i == parent[0] else -1.0 for i in g.index]
                k += 1
    return sparse.csr_matrix((vals, (rows, cols)), shape=(k, len(cells)))


def _interval(A, b, lo, i):
    out = []
    for sign in (1.0, -1.0):
        c = np.zeros(A.shape[1])
        c[i] = sign
        r = linprog(c, A_eq=A, b_eq=b, bounds=[(v, None) for v in lo], method="highs")
        out.append(sign * r.fun if r.status == 0 else -sign * np.inf)
    return out


def joint_lp(metrics: pd.DataFrame, quantities=None, known: pd.DataFrame | None = None,
             width: float | None = None, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Attack 2: solve every roll-up equation of each count quantity together.

    ``known`` (keys, ``quantity``, ``value``) adds what earlier attacks recovered; ``totals`` (the
    same columns) adds published cells from other files, e.g. all-period totals (``period`` =
    ``all``) from :func:`data_quality_totals`. Returns the hidden cells recovered exactly (determined
    by the equations) and, with ``width``, those whose LP interval is narrower than ``width``."""
    found = []
    for q in quantities or QUANTITIES:
        t = quantity_table(metrics, q)
        if totals is not None and len(totals):
            extra = totals.loc[totals["quantity"] == q, [*DIMS, "value"]].assign(hidden=False)
            t = pd.concat([t, extra], ignore_index=True) if len(extra) else t
        if t.empty or not t["hidden"].any():
            continue
        if known is not None and len(known):
            k = known[known["quantity"] == q]
            t = t.merge(k[[*DIMS, "value"]].rename(columns={"value": "_k"}), on=DIMS, how="left")
            use = t["hidden"] & t["_k"].notna()
            t.loc[use, "value"], t.loc[use, "hidden"] = t.loc[use, "_k"], False
            t = t.drop(columns="_k")
        A = _equations(t)
        h = t["hidden"].to_numpy()
        Ah = A[:, h]
        b = -(A[:, ~h] @ t.loc[~h, "value"].to_numpy())
        keep = np.diff(Ah.tocsr().indptr) > 0
        Ah, b = Ah.tocsr()[keep], b[keep]
        hid = t[h].reset_index(drop=True)
        if Ah.shape[0] == 0:
            continue
        Q, R, _ = qr(Ah.toarray().T, pivoting=True)
        d = np.abs(np.diag(R))
        N = Q[:, int((d > 1e-9 * d.max()).sum()):]
        determined = np.einsum("ij,ij->i", N, N) < 1e-9
        in_eq = np.asarray(abs(Ah).sum(axis=0)).ravel() > 0
        # any particular solution gives the determined values
        sol = np.linalg.lstsq(Ah.toarray(), b, rcond=None)[0]
        lo = np.full(len(hid), float(QUANTITIES[q][2]))
        for i in range(len(hid)):
            if not in_eq[i]:
                continue
            if determined[i]:
                found.append({**hid.loc[i, DIMS].to_dict(), "quantity": q, "value": round(sol[i]),
                              "lower": round(sol[i]), "upper": round(sol[i])})
            elif width is not None:
                a, z = _interval(Ah, b, lo, i)
                if np.floor(z + 1e-7) - np.ceil(a - 1e-7) < width:
                    found.append({**hid.loc[i, DIMS].to_dict(), "quantity": q, "value": np.nan,
                                  "lower": a, "upper": z})
    return pd.DataFrame(found, columns=[*DIMS, "quantity", "value", "lower", "upper"])


def _excluded(manifest: dict, table: str) -> int:
    """The rows of ``table`` excluded by validation as published: the sum of its per-rule counts."""
    return int(sum(v.get("rows", 0) for v in (manifest.get("validation") or {}).get("violations", [])
                   if v.get("table") == table))


def data_quality_totals(run: Path) -> pd.DataFrame:
    """All-period totals a run publishes outside ``metrics.csv``, as cells with ``period`` = ``all``.

    Whatever of these the run folder (``run`` is its ``results/``) gives: each touchpoint's
    interactions and rated share over all the data in ``touchpoint_inventory.csv``; the interactions
    kept in ``validation.json`` or ``manifest.json``, or else rows read minus the rows excluded per
    rule (the sum of ``validation.violations``). For :func:`joint_lp`'s ``totals``."""
    rows = []
    inv = Path(run) / "touchpoint_inventory.csv"
    if inv.exists():
        t = pd.read_csv(inv, keep_default_na=False, na_values=[""])
        if "volume" in t.columns:
            t = t[t["volume"].notna() & (t["volume"] > 0)]
            for r in t.itertuples(index=False):
                keys = {"period": TOTAL, "touchpoint": str(r.touchpoint), "channel": TOTAL, "segment": TOTAL}
                rows.append({**keys, "quantity": "interactions", "value": float(r.volume)})
                if "rated_share" in t.columns and pd.notna(r.rated_share):
                    rows.append({**keys, "quantity": "rated", "value": float(round(r.rated_share * r.volume))})
    folder = Path(run).parent
    manifest = json.loads((folder / "manifest.json").read_text()) if (folder / "manifest.json").exists() else {}
    counts = []
    if (folder / "validation.json").exists():
        counts.append(json.loads((folder / "validation.json").read_text()))
    counts.append({k: {"interactions": (manifest.get("inputs", {}).get("interactions") or {}).get(k)}
                   for k in ("rows_read", "rows_kept")})
    for c in counts:
        kept = (c.get("rows_kept") or {}).get("interactions")
        read = (c.get("rows_read") or {}).get("interactions")
        if kept is None and read is not None:
            kept = read - _excluded(manifest, "interactions")
        if kept is not None:
            rows.append({"period": TOTAL, "touchpoint": TOTAL, "channel": TOTAL, "segment": TOTAL,
                         "quantity": "interactions", "value": float(kept)})
            break
    return pd.DataFrame(rows, columns=[*DIMS, "quantity", "value"])


def kept_interval(run: Path, table: str = "interactions") -> tuple[float, float]:
    """The rows of ``table`` kept, as narrow as the manifest's rounded ``share_kept`` and the rows
    excluded per rule make them: read ∈ [e / (1 − s + h), e / (1 − s − h)], kept = read − e, with
    the finest rounding (h = 0.0005) assumed. ``(0, inf)`` when nothing bounds it (no share, or no
    row excluded)."""
    manifest = json.loads((Path(run).parent / "manifest.json").read_text())
    share = (manifest.get("inputs", {}).get(table) or {}).get("share_kept")
    e = _excluded(manifest, table)
    if share is None or e == 0:
        return 0.0, np.inf
    h = 0.0005
    lo = e / (1 - share + h)
    hi = e / (1 - share - h) if 1 - share - h > 0 else np.inf
    return lo - e, hi - e


def run_difference(earlier: pd.DataFrame, later: pd.DataFrame) -> pd.DataFrame:
    """Attack 3: later − earlier cumulative ``all``-period rows, and republished closed-period cells."""
    found = []
    new = sorted(set(later["period"]) - set(earlier["period"]) - {TOTAL})
    for q in QUANTITIES:
        a, b = quantity_table(earlier, q), quantity_table(later, q)
        if b.empty:
            continue
        keys = DIMS[1:]
        cum_a = a[(a["period"] == TOTAL) & ~a["hidden"]].set_index(keys)["value"]
        cum_b = b[(b["period"] == TOTAL) & ~b["hidden"]].set_index(keys)["value"]
        had_a = set(map(tuple, a.loc[a["period"] == TOTAL, keys].to_numpy()))
        if len(new) == 1:
            target = b[(b["period"] == new[0]) & b["hidden"]]
            for r in target.itertuples(index=False):
                key = (r.touchpoint, r.channel, r.segment)
                if key in cum_b.index and (key in cum_a.index or key not in had_a):
                    found.append({"period": r.period, "touchpoint": key[0], "channel": key[1], "segment": key[2],
                                  "quantity": q, "value": cum_b[key] - cum_a.get(key, 0.0), "how": "cumulative"})
        both = a.merge(b, on=DIMS, suffixes=("_a", "_b"))
        both = both[(both["period"] != TOTAL) & (both["hidden_a"] != both["hidden_b"])]
        for r in both.itertuples(index=False):
            found.append({"period": r.period, "touchpoint": r.touchpoint, "channel": r.channel, "segment": r.segment,
                          "quantity": q, "value": r.value_a if r.hidden_b else r.value_b, "how": "republished"})
    return pd.DataFrame(found, columns=[*DIMS, "quantity", "value", "how"])


def retention_subtraction(retention: pd.DataFrame, horizons=None, levels: dict | None = None) -> pd.DataFrame:
    """Attack 4: the missing groups of a partition (``segment=…`` or ``cohort=…``) at a horizon = all − the rest.

    The attacker knows the partition's levels from elsewhere (``levels``: prefix -> every level,
    e.g. the segments of metrics.csv and the signup quarters); without them, a missing group is
    any level whose published groups' ``at_risk`` fall short of ``all``. A row per partition and
    day with a gap: ``hidden_groups`` (how many levels share the gap; 1 = recovered exactly) and
    ``at_risk_hidden`` (their total)."""
    r = pd.read_csv(retention) if isinstance(retention, (str, Path)) else retention
    found = []
    days = horizons if horizons is not None else sorted(set(r.loc[r["group"] == "all", "days"]))
    top = r[r["group"] == "all"].set_index("days")["at_risk"]
    for prefix in ("segment=", "cohort="):
        g = r[r["group"].astype(str).str.startswith(prefix)]
        if g.empty:
            continue
        shown = set(g["group"])
        known = {prefix + str(v) for v in (levels or {}).get(prefix[:-1], [])}
        missing = len(known - shown) if known else None
        for h in days:
            if h not in top.index:
                continue
            # at a day where every shown group has a row, the gap is the hidden groups' at_risk
            at = g[g["days"] == h]
            if at["group"].nunique() != g["group"].nunique():
                continue
            gap = top[h] - at["at_risk"].sum()
            if gap > 0:
                found.append({"partition": prefix[:-1], "days": int(h), "at_risk_hidden": int(gap),
                              "hidden_groups": missing if missing is not None else 1})
    return pd.DataFrame(found, columns=["partition", "days", "at_risk_hidden", "hidden_groups"])


def attack_all(run: Path, earlier_run: Path | None = None, width: float | None = None,
               levels: dict | None = None) -> dict[str, pd.DataFrame]:
    """Every attack on one run folder's ``results/`` (and an earlier run of the series)."""
    m = read_metrics(run)
    out = {"derived_products": derived_products(m)}
    out["joint_lp"] = joint_lp(m, known=out["derived_products"], width=width)
    if earlier_run is not None:
        out["run_difference"] = run_difference(read_metrics(earlier_run), m)
    if (Path(run) / "retention.csv").exists():
        out["retention_subtraction"] = retention_subtraction(Path(run) / "retention.csv", levels=levels)
    return out
