"""General dominance (Budescu 1993): the Shapley decomposition of R², from covariance matrices.

Every R² needed — the 2^k subsets of k drivers, in every bootstrap replicate — is computed from the
(weighted) covariance matrix of ``[outcome, driver_1, ..., driver_k]``: a subset's R² is
``c_yS' C_SS^{-1} c_yS / var_y``. A bootstrap resample is a vector of multinomial frequencies
over the distinct answer patterns, so its covariance is two matrix products and nothing is refitted. Above a dozen drivers the
weights are averaged over random driver orderings instead of all subsets (:func:`sampled_shapley`).

Examples
--------
>>> import numpy as np
>>> c = np.array([[2.0, 1.0, 0.5], [1.0, 1.0, 0.0], [0.5, 0.0, 1.0]])
>>> w = dominance_weights(c)
>>> bool(abs(w.sum() - subset_r_squared(c)[-1]) < 1e-12)
True
"""

from __future__ import annotations

import math

import numpy as np

_BOOT_CHUNK = 64  # bootstrap replicates per block at most
_BOOT_BLOCK_FLOATS = 8_000_000  # and at most this many floats of weights or subset matrices per block


def _subsets(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    masks = np.arange(1 << k)
    members = ((masks[:, None] >> np.arange(k)) & 1).astype(bool)
    return masks, members, members.sum(axis=1)


def subset_r_squared(cov: np.ndarray) -> np.ndarray:
    """R² of the regression of the outcome on every subset of the drivers.

    Parameters
    ----------
    cov : ndarray, shape (..., k + 1, k + 1)
        Covariance (or cross-product of centred data) of ``[outcome, driver_1, ..., driver_k]``;
        leading dimensions are batches (e.g. bootstrap replicates).

    Returns
    -------
    ndarray, shape (..., 2**k)
        Entry ``m`` is the R² of the drivers whose bits are set in ``m`` (bit j = driver j);
        entry 0 (no drivers) is 0.

    Examples
    --------
    >>> c = np.array([[2.0, 1.0], [1.0, 1.0]])
    >>> subset_r_squared(c)
    array([0. , 0.5])
    """
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[-1] - 1
    var_y = cov[..., 0, 0]
    masks, members, sizes = _subsets(k)
    out = np.zeros(cov.shape[:-2] + (1 << k,))
    for s in range(1, k + 1):
        sel = masks[sizes == s]
        idx = np.nonzero(members[sel])[1].reshape(len(sel), s) + 1
        cxx = cov[..., idx[:, :, None], idx[:, None, :]]
        cxy = cov[..., idx, 0]
        beta = _solve(cxx, cxy)
        out[..., sel] = (cxy * beta).sum(axis=-1) / var_y[..., None]
    return out


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        # A bootstrap resample can make a driver constant; the pseudo-inverse gives that subset
        # the R² of its estimable part instead of failing the whole block.
        return (np.linalg.pinv(a) @ b[..., None])[..., 0]


def shapley_from_subsets(r2: np.ndarray) -> np.ndarray:
    """General dominance weights from the R² of all subsets (exact Shapley values).

    ``w_j = sum over S not containing j of |S|! (k - |S| - 1)! / k! * (R²(S + j) - R²(S))``;
    the weights sum to ``R²(all) - R²(none)``.

    Parameters
    ----------
    r2 : ndarray, shape (..., 2**k)
        As returned by :func:`subset_r_squared`.

    Returns
    -------
    ndarray, shape (..., k)

    Examples
    --------
    >>> shapley_from_subsets(np.array([0.0, 0.3, 0.2, 0.4]))
    array([0.25, 0.15])
    """
    r2 = np.asarray(r2, dtype=float)
    k = round(math.log2(r2.shape[-1]))
    masks, members, sizes = _subsets(k)
    weight = np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) if s < k else 0.0
                       for s in range(k + 1)])
    out = np.empty(r2.shape[:-1] + (k,))
    for j in range(k):
        without = masks[~members[:, j]]
        out[..., j] = (r2[..., without | (1 << j)] - r2[..., without]) @ weight[sizes[without]]
    return out


def sampled_shapley(cov: np.ndarray, orderings: np.ndarray) -> np.ndarray:
    """Shapley decomposition of R² averaged over the given driver orderings (an approximation).

    For one ordering, the Cholesky factor of the covariance with the drivers in that order and the
    outcome last holds, in its last row, each driver's increment to R² when it enters after the
    drivers before it (squared entries over ``var_y``). The increments of one ordering sum to R²
    exactly, so the approximation still sums to R²; only the split between drivers is sampled.

    Parameters
    ----------
    cov : ndarray, shape (..., k + 1, k + 1)
        Covariance of ``[outcome, drivers...]``.
    orderings : ndarray of int, shape (P, k)
        Permutations of ``0..k-1``.

    Returns
    -------
    ndarray, shape (..., k)

    Examples
    --------
    >>> c = np.array([[2.0, 1.0], [1.0, 1.0]])
    >>> sampled_shapley(c, np.array([[0]]))
    array([0.5])
    """
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[-1] - 1
    order = np.concatenate([orderings + 1, np.zeros((len(orderings), 1), dtype=int)], axis=1)
    chol = np.linalg.cholesky(cov[..., order[:, :, None], order[:, None, :]])
    gains = chol[..., k, :k] ** 2 / cov[..., 0, 0][..., None, None]
    position = np.broadcast_to(np.argsort(orderings, axis=1), gains.shape)
    return np.take_along_axis(gains, position, axis=-1).mean(axis=-2)


def antithetic_orderings(rng: np.random.Generator, k: int, count: int) -> np.ndarray:
    """``count`` random orderings of ``k`` drivers in antithetic pairs (an ordering and its reverse).

    The pairs cancel much of the sampling noise of :func:`sampled_shapley`.

    Examples
    --------
    >>> o = antithetic_orderings(np.random.default_rng(0), 3, 4)
    >>> o.shape, bool((o[2:] == o[:2, ::-1]).all())
    ((4, 3), True)
    """
    half = np.array([rng.permutation(k) for _ in range(count // 2)])
    return np.concatenate([half, half[:, ::-1]])


def dominance_weights(cov: np.ndarray, orderings: np.ndarray | None = None) -> np.ndarray:
    """General dominance weights of the drivers: exact over all subsets, or averaged over ``orderings``.

    Parameters
    ----------
    cov : ndarray, shape (..., k + 1, k + 1)
        Covariance of ``[outcome, drivers...]`` (batched over leading dimensions).
    orderings : ndarray of int, shape (P, k), optional
        Driver orderings for the sampled approximation (:func:`sampled_shapley`); None for exact.

    Examples
    --------
    >>> c = np.array([[2.0, 1.0, 0.5], [1.0, 1.0, 0.0], [0.5, 0.0, 1.0]])
    >>> dominance_weights(c)
    array([0.5  , 0.125])
    """
    if orderings is None:
        return shapley_from_subsets(subset_r_squared(cov))
    return sampled_shapley(cov, orderings)


def weighted_covariances(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Covariance matrices of the columns of ``z`` under each row of frequency ``weights``.

    Parameters
    ----------
    z : ndarray, shape (n, p)
        The data (centred, for good conditioning).
    weights : ndarray, shape (B, n)
        Frequency weights, one row per resample.

    Returns
    -------
    ndarray, shape (B, p, p)
        Population (divide-by-total-weight) covariances.

    Examples
    --------
    >>> z = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> weighted_covariances(z, np.array([[1.0, 1.0]]))[0]
    array([[1., 1.],
           [1., 1.]])
    """
    n_w = weights.sum(axis=1)
    iu, ju = np.triu_indices(z.shape[1])
    s1 = weights @ z / n_w[:, None]
    s2 = weights @ (z[:, iu] * z[:, ju]) / n_w[:, None]
    cov = np.empty((len(weights), z.shape[1], z.shape[1]))
    cov[:, iu, ju] = s2 - s1[:, iu] * s1[:, ju]
    cov[:, ju, iu] = cov[:, iu, ju]
    return cov


def bootstrap_dominance(z: np.ndarray, replicates: int, rng: np.random.Generator,
                        orderings: np.ndarray | None = None, counts: np.ndarray | None = None) -> np.ndarray:
    """Dominance weights in ``replicates`` nonparametric bootstrap resamples of the rows of ``z``.

    A resample of ``n`` observations drawn with replacement holds each distinct row a
    Multinomial(``n``, ``counts / n``) number of times, so it is drawn as that vector of
    frequencies over the distinct rows, and its covariance is two matrix products: the cost
    follows the number of distinct rows, not of observations. The resamples are drawn in blocks
    (at most 64 replicates, and a bounded number of floats of frequencies or subset matrices per
    block), so memory stays flat in the number of replicates.

    Parameters
    ----------
    z : ndarray, shape (m, k + 1)
        ``[outcome, drivers...]`` per row, centred.
    replicates : int
        Bootstrap replicates (0 gives an empty array).
    rng : numpy.random.Generator
        Draws the resamples (consumed in block order, so a seed fixes the result).
    orderings : ndarray, optional
        Driver orderings of the sampled approximation, None for exact weights.
    counts : ndarray of int, shape (m,), optional
        Observations per row when the rows are distinct answer patterns; None for one each.

    Returns
    -------
    ndarray, shape (replicates, k)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2))
    >>> z = np.column_stack([x @ [1.0, 0.5] + rng.normal(size=200), x])
    >>> boot = bootstrap_dominance(z - z.mean(axis=0), 30, np.random.default_rng(1))
    >>> boot.shape, bool((boot > 0).all())
    ((30, 2), True)
    """
    m, k = z.shape[0], z.shape[1] - 1
    counts = np.ones(m, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    if orderings is None:
        per_replicate = k * (k + 1) * 2 ** max(k - 2, 0)
    else:
        per_replicate = len(orderings) * (k + 1) ** 2
    boot = np.empty((replicates, k))
    chunk = int(max(1, min(_BOOT_CHUNK, _BOOT_BLOCK_FLOATS // max(m, per_replicate))))
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        frequencies = rng.multinomial(n, counts / n, size=size).astype(float)
        boot[start:start + size] = dominance_weights(weighted_covariances(z, frequencies), orderings)
    return boot


def percentile_interval(x: np.ndarray, level: float, method: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Columnwise percentile interval of bootstrap replicates (rows).

    Examples
    --------
    >>> percentile_interval(np.arange(101.0)[:, None], 0.9)
    (array([5.]), array([95.]))
    """
    alpha = (1 - level) / 2
    return (np.quantile(x, alpha, axis=0, method=method), np.quantile(x, 1 - alpha, axis=0, method=method))


def ranks(importance: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = largest (ties broken by position).

    Examples
    --------
    >>> ranks(np.array([[0.1, 0.5, 0.3]]))
    array([[3, 1, 2]])
    """
    return (-importance).argsort(axis=-1).argsort(axis=-1) + 1
