"""Stage 2: non-negative matrix factorization V ~ W H under the generalized KL divergence.

The updates are Lee & Seung's multiplicative rules, with the same safeguards
as scikit-learn's ``solver="mu"`` (W H floored at float32 epsilon before the
ratio ``V / (W H)``, empty denominators guarded), and the same order: W, then
H, in every iteration. Starting from the same W and H, both give the same
factors up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg
from tqdm.auto import tqdm

from ._checks import non_negative_float, positive_int
from ._kernels import H_FLOOR, Engine, ratio_and_divergence
from .exceptions import ParameterError

#: Floor for W H and for empty denominators, as in scikit-learn.
EPSILON = float(np.finfo(np.float32).eps)

INITS = ("random", "nndsvda")


@dataclass
class NMFResult:
    """Outcome of :func:`nmf`.

    Attributes
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
        Spectral templates; when learnt, each column sums to 1.
    H : np.ndarray [shape=(n_components, n_frames)]
        Activations, scaled so that ``W @ H`` is the fitted model.
    losses : np.ndarray [shape=(n_iter,), dtype=float64]
        Generalized KL divergence ``D(V | W H)`` after each iteration.
    """

    W: np.ndarray
    H: np.ndarray
    losses: np.ndarray

    @property
    def n_iter(self) -> int:
        """Number of iterations run (fewer than asked when ``tol`` stopped early)."""
        return len(self.losses)


def kl_divergence(V: np.ndarray, W: np.ndarray, H: np.ndarray) -> float:
    """Generalized Kullback-Leibler divergence ``D(V | W H)``.

    ``D = sum(V * log(V / WH) - V + WH)``, with ``0 * log 0 = 0`` and ``W H``
    floored at ``EPSILON`` inside the logarithm, as in the updates.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]

    Returns
    -------
    float
    """
    V = np.ascontiguousarray(V)
    WH = np.asarray(W, dtype=V.dtype) @ np.asarray(H, dtype=V.dtype)
    return ratio_and_divergence(V.ravel(), WH.ravel(), V.dtype.type(EPSILON))


def nmf(
    V: np.ndarray,
    n_components: int,
    *,
    n_iter: int = 200,
    tol: float = 1e-4,
    init: str = "random",
    W: np.ndarray | None = None,
    H: np.ndarray | None = None,
    fix_W: bool | np.ndarray = False,
    fix_H: bool | np.ndarray = False,
    seed: int | np.random.Generator | None = 0,
    dtype: type = np.float32,
    progress: bool = False,
) -> NMFResult:
    """Factorize a non-negative matrix, ``V ~ W @ H``, minimizing the generalized KL divergence.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
        Non-negative, finite data, typically a magnitude spectrogram.
    n_components : int >= 1
        Number of components K. Unless ``fix_W``, at most ``min(n_freq, n_frames)``.
    n_iter : int >= 1
        Maximum number of iterations.
    tol : float >= 0
        Stop when an iteration lowers the loss by less than ``tol`` times its
        previous value. ``tol=0`` runs exactly ``n_iter`` iterations.
    init : {"random", "nndsvda"}
        How to start the factors not given: scaled absolute Gaussian noise
        (as scikit-learn's "random"), or NNDSVD with zeros filled by the mean of V.
    W : np.ndarray [shape=(n_freq, n_components)] or None
        Starting templates (or, with ``fix_W``, the fixed templates).
    H : np.ndarray [shape=(n_components, n_frames)] or None
        Starting activations.
    fix_W : bool or np.ndarray [shape=(n_components,), dtype=bool]
        Keep ``W`` constant and learn only ``H`` (supervised separation); or,
        given a mask, keep the columns where it is True (learnt templates) and
        learn the others (free components for the rest of the recording).
        Kept columns are returned as given, unscaled.
    fix_H : bool or np.ndarray [shape=(n_components,), dtype=bool]
        Keep ``H`` constant, or the rows where the mask is True, as given;
        components whose activations are kept are returned unscaled. With
        both masks True for some components, those are a fixed part of the
        model that the others fit around (free components beside learnt
        templates, for one).
    seed : int, np.random.Generator or None
        Seed of the random initialization: the same seed gives the same
        result (0 by default, as the command line); ``None`` draws a fresh one.
    dtype : np.float32 or np.float64
        Precision of the computation.
    progress : bool
        Show a progress bar over the iterations.

    Returns
    -------
    NMFResult
        ``W`` with unit-sum learnt columns, ``H`` rescaled so
        ``W @ H`` is unchanged, and the loss after each iteration.

    Raises
    ------
    ParameterError
        For a V that is not 2-D, not finite or has negative entries, for
        ``n_components`` out of range, and for bad options or starting factors.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ParameterError(f"dtype must be float32 or float64, got {dtype}")
    V = _check_data(V, dtype)
    n_freq, n_frames = V.shape
    n_components = positive_int("n_components", n_components)
    n_iter = positive_int("n_iter", n_iter)
    tol = non_negative_float("tol", tol)
    if init not in INITS:
        raise ParameterError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    fixed = _check_fixed("fix_W", fix_W, n_components)
    if fixed.any() and W is None:
        raise ParameterError("fix_W needs the templates W")
    frozen = _check_fixed("fix_H", fix_H, n_components)
    if frozen.any() and H is None:
        raise ParameterError("fix_H needs the activations H")
    if not fixed.any():
        check_n_components(n_components, n_freq, n_frames)
    W = _check_factor("W", W, (n_freq, n_components), dtype)
    H = _check_factor("H", H, (n_components, n_frames), dtype)
    if W is None or H is None:
        W0, H0 = initialize(V, n_components, init=init, seed=seed)
        W = W0 if W is None else W
        H = H0 if H is None else H

    Vt = np.ascontiguousarray(V.T)  # frames as rows: each block of frames is contiguous
    del V  # one copy of the data during the iterations, not two (when the caller let go of it)
    H, losses = _run(
        Vt, W, H, n_iter=n_iter, tol=tol, fixed=fixed, frozen=frozen, progress=progress
    )
    scale = np.where(fixed | frozen, 1, W.sum(axis=0))
    scale[scale == 0] = 1
    W /= scale
    H *= scale[:, None]
    return NMFResult(W=W, H=H, losses=losses)


def check_n_components(n_components: int, n_freq: int, n_frames: int) -> None:
    """Raise ParameterError unless ``1 <= n_components <= min(n_freq, n_frames)``."""
    positive_int("n_components", n_components)
    if n_components > min(n_freq, n_frames):
        raise ParameterError(
            f"n_components={n_components} is larger than the spectrogram allows:"
            f" at most min(n_freq, n_frames) = {min(n_freq, n_frames)}"
        )


def _check_fixed(name: str, fix: object, n_components: int) -> np.ndarray:
    """``fix_W`` or ``fix_H`` as a boolean mask over the components."""
    if isinstance(fix, bool | np.bool_):
        return np.full(n_components, bool(fix))
    fixed = np.asarray(fix)
    if fixed.dtype != bool or fixed.shape != (n_components,):
        raise ParameterError(
            f"{name} must be a bool or a boolean array of shape ({n_components},),"
            f" got {fixed.dtype} array of shape {fixed.shape}"
        )
    return fixed


def _run(
    Vt: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
    *,
    n_iter: int,
    tol: float,
    fixed: np.ndarray,
    frozen: np.ndarray,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Update W's free columns in place; return the new H and the loss after each iteration.

    The rows of H where ``frozen`` is True are put back after every H pass:
    each block of frames forms its ratio before updating its own activations,
    so that is the same as never updating them.

    ``Vt`` is the data transposed, shape ``(n_frames, n_freq)``, C-contiguous.

    Each pass over the data forms ``V / (W H)`` from the current factors, which
    also yields the loss of those factors at no extra cost: the W pass of an
    iteration measures the previous one, and a last pass measures the final
    factors. With W fixed, the H pass both measures and updates, so a stop is
    noticed one update late; that update's loss is then measured too, and the
    history always ends with the loss of the returned factors.
    """
    engine = Engine(Vt, EPSILON)
    Ht = np.ascontiguousarray(H.T)
    kept = Ht[:, frozen].copy()

    def h_pass(**options) -> float:
        loss = engine.h_pass(W, Ht, **options)
        if frozen.any():
            Ht[:, frozen] = kept
        return loss

    w_floor = np.finfo(W.dtype).tiny / H_FLOOR  # so that W * H, with H >= H_FLOOR, stays normal
    losses: list[float] = []
    with (
        engine.running(),
        tqdm(total=n_iter, desc="NMF", unit="it", disable=not progress, leave=False) as bar,
    ):

        def converged(loss: float) -> bool:
            losses.append(loss)
            bar.update()
            bar.set_postfix(loss=f"{loss:.5g}", refresh=False)
            return tol > 0 and len(losses) > 1 and losses[-2] - losses[-1] <= tol * losses[-2]

        stopped = False
        for it in range(n_iter):
            if fixed.all():
                loss = h_pass(with_loss=True)
                if it > 0 and converged(loss):
                    break
                continue
            numerator, loss = engine.w_pass(W, Ht)
            if it > 0 and converged(loss):
                stopped = True
                break
            denominator = Ht.sum(axis=0)
            denominator[denominator == 0] = EPSILON
            W *= np.where(fixed, 1, numerator / denominator)
            # Template entries that decay towards zero (bands the recording never
            # reaches) would turn subnormal, and subnormal arithmetic is ~100x slower:
            # flush them. Such an entry adds less than 1e-14 to W H wherever H is
            # below 1e8: far under the EPSILON floor of W H, so the fit cannot tell.
            W[(W < w_floor) & ~fixed] = 0
            h_pass()
        if not stopped:
            converged(engine.w_pass(W, Ht, measure_only=True)[1])
    return np.ascontiguousarray(Ht.T), np.asarray(losses, dtype=np.float64)


def initialize(
    V: np.ndarray,
    n_components: int,
    *,
    init: str = "random",
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Starting factors for :func:`nmf`.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
    n_components : int
    init : {"random", "nndsvda"}
        "random": absolute Gaussian entries scaled by ``sqrt(mean(V) / K)``,
        as scikit-learn does. "nndsvda": non-negative double SVD (Boutsidis &
        Gallopoulos, 2008) with zeros replaced by ``mean(V)``; the seed then
        only fixes the start vector of the sparse SVD solver.
    seed : int, np.random.Generator or None
        As in :func:`nmf`.

    Returns
    -------
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]
    """
    rng = np.random.default_rng(seed)
    n_freq, n_frames = V.shape
    mean = float(V.mean(dtype=np.float64))
    if init == "random":
        scale = np.sqrt(mean / n_components)
        W = np.abs(scale * rng.standard_normal((n_freq, n_components)))
        H = np.abs(scale * rng.standard_normal((n_components, n_frames)))
        return W.astype(V.dtype), H.astype(V.dtype)
    if init == "nndsvda":
        return _nndsvd(V, n_components, rng, fill=mean)
    raise ParameterError(f"init must be one of {', '.join(INITS)}, got {init!r}")


def _nndsvd(
    V: np.ndarray, n_components: int, rng: np.random.Generator, *, fill: float
) -> tuple[np.ndarray, np.ndarray]:
    U, S, Vt = _leading_svd(V.astype(np.float64), n_components, rng)
    W = np.zeros((V.shape[0], n_components))
    H = np.zeros((n_components, V.shape[1]))
    for j in range(n_components):
        u, v = U[:, j], Vt[j]
        # Keep whichever sign pattern of the singular pair carries more energy.
        pos = (np.maximum(u, 0), np.maximum(v, 0))
        neg = (np.maximum(-u, 0), np.maximum(-v, 0))
        norms_pos = np.linalg.norm(pos[0]) * np.linalg.norm(pos[1])
        norms_neg = np.linalg.norm(neg[0]) * np.linalg.norm(neg[1])
        (a, b), sigma = (pos, norms_pos) if norms_pos >= norms_neg else (neg, norms_neg)
        if sigma > 0:
            lam = np.sqrt(S[j] * sigma)
            W[:, j] = lam * a / np.linalg.norm(a)
            H[j] = lam * b / np.linalg.norm(b)
    W[W < EPSILON] = fill
    H[H < EPSILON] = fill
    return W.astype(V.dtype), H.astype(V.dtype)


def _leading_svd(
    A: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k leading singular triplets of A, largest first."""
    if k < min(A.shape) - 1 and A.any():
        v0 = rng.uniform(-1, 1, size=min(A.shape))
        U, S, Vt = scipy.sparse.linalg.svds(A, k=k, v0=v0)
        order = np.argsort(S)[::-1]
        return U[:, order], S[order], Vt[order]
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    return U[:, :k], S[:k], Vt[:k]


def _check_data(V: object, dtype: np.dtype) -> np.ndarray:
    V = np.asarray(V)
    if V.ndim != 2:
        raise ParameterError(f"V must be 2-D (n_freq, n_frames), got shape {V.shape}")
    if V.size == 0:
        raise ParameterError(f"V is empty, shape {V.shape}")
    V = np.ascontiguousarray(V, dtype=dtype)
    if not np.isfinite(V).all():
        raise ParameterError("V contains NaN or infinite values")
    if V.min() < 0:
        raise ParameterError(f"V must be non-negative, found {V.min()}")
    return V


def _check_factor(
    name: str, A: object, shape: tuple[int, int], dtype: np.dtype
) -> np.ndarray | None:
    if A is None:
        return None
    A = np.asarray(A)
    if A.shape != shape:
        raise ParameterError(f"{name} must have shape {shape}, got {A.shape}")
    if not np.isfinite(A).all() or A.min() < 0:
        raise ParameterError(f"{name} must be finite and non-negative")
    return np.array(A, dtype=dtype, order="C")  # a copy: the caller's array is never changed
