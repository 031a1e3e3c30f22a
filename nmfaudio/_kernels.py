"""The work of one multiplicative update: products with BLAS, element-wise work fused in numba.

Each update forms ``R = V / max(W H, eps)`` and, in the same sweep, the
divergence ``D(V | W H)`` of the factors it started from, so the loss history
costs no extra pass over the data.
"""

from __future__ import annotations

import numba
import numpy as np

#: Activations below this are set to zero after each H update, as scikit-learn does for KL.
H_FLOOR = float(np.finfo(np.float64).eps)


@numba.njit(cache=True)
def ratio_and_divergence(V: np.ndarray, WH: np.ndarray, eps: float) -> float:
    """Overwrite ``WH`` with ``V / max(WH, eps)``; return the divergence ``D(V | WH)``.

    The floor guards the ratio and its logarithm only, so a zero model of zero
    data has zero loss.

    Terms are summed in float64, one row at a time, so the loss is accurate
    even when V has tens of millions of entries.
    """
    n_rows, n_cols = V.shape
    partial = np.zeros(n_rows)
    for f in range(n_rows):
        acc = 0.0
        for t in range(n_cols):
            v = V[f, t]
            wh = WH[f, t]
            r = v / max(wh, eps)
            WH[f, t] = r
            acc += wh
            if v > 0:
                acc += v * np.log(r) - v
        partial[f] = acc
    return partial.sum()


def update_w(
    V: np.ndarray, W: np.ndarray, H: np.ndarray, eps: float, *, measure_only: bool = False
) -> float:
    """One multiplicative update of W in place; return the loss before it.

    ``W <- W * ((V / WH) @ H.T) / sum_t H``. With ``measure_only`` only the loss
    is computed.
    """
    R = W @ H
    loss = ratio_and_divergence(V, R, eps)
    if not measure_only:
        denominator = H.sum(axis=1)
        denominator[denominator == 0] = eps
        W *= (R @ H.T) / denominator
    return loss


def update_h(
    V: np.ndarray, W: np.ndarray, H: np.ndarray, eps: float, *, measure_only: bool = False
) -> float:
    """One multiplicative update of H in place; return the loss before it.

    ``H <- H * (W.T @ (V / WH)) / sum_f W``. With ``measure_only`` only the loss
    is computed.
    """
    R = W @ H
    loss = ratio_and_divergence(V, R, eps)
    if not measure_only:
        denominator = W.sum(axis=0)
        denominator[denominator == 0] = 1
        H *= (W.T @ R) / denominator[:, None]
        H[H < H_FLOOR] = 0  # as scikit-learn: no drift into denormals
    return loss
