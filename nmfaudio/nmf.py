"""Stage 2: non-negative matrix factorization V ~ W H under a β-divergence, with penalties.

The updates are the multiplicative rules of Lee & Seung, as generalised to
the β-divergences by Févotte & Idier (2011), with the same safeguards as
scikit-learn's ``solver="mu"`` (W H floored at float32 epsilon, empty
denominators guarded) and the same order: W, then H, in every iteration.
Starting from the same W and H, both give the same factors up to rounding.
The rules themselves, the costs and the penalties live in ``_updates.py``;
this module checks, starts, iterates and scales.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse.linalg

from ._checks import positive_int, random_seed
from ._progress import stage
from ._updates import EPSILON, Updates
from .defaults import BETA
from .exceptions import ParameterError
from .settings import Cost, Fit, given


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
        The cost minimised, ``D_β(V | W H)`` plus the penalties, after each iteration.
    cost : Cost
        That cost: β and the penalties.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> V = np.random.default_rng(0).random((20, 30))
    >>> result = nmfaudio.nmf(V, 3)
    >>> result.W.shape, result.H.shape
    ((20, 3), (3, 30))
    >>> bool(result.losses[-1] < result.losses[0])
    True
    """

    W: np.ndarray
    H: np.ndarray
    losses: np.ndarray
    cost: Cost = field(default_factory=Cost)

    @property
    def n_iter(self) -> int:
        """Number of iterations run (fewer than asked when ``tol`` stopped early)."""
        return len(self.losses)


def divergence(V: np.ndarray, W: np.ndarray, H: np.ndarray, beta: float | str = BETA) -> float:
    """β-divergence ``D_β(V | W H)``, summed over the entries, without forming an F x T array.

    ``d_β(x | y) = (x**β + (β - 1) y**β - β x y**(β-1)) / (β (β - 1))``; its
    limits are Itakura-Saito ``x/y - log(x/y) - 1`` at β = 0 and generalized
    Kullback-Leibler ``x log(x/y) - x + y`` at β = 1; β = 2 is ``(x - y)**2 / 2``.
    ``W H`` is floored at ``EPSILON`` where it is divided by or raised to a
    negative power, as in the updates; ``0 log 0 = 0``, and entries where ``V``
    is 0 are left out of the Itakura-Saito sum (infinite there).

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]
    beta : float >= 0 or {"is", "kl", "euclidean"}

    Returns
    -------
    float
        The divergence summed over the entries (not a mean): 0 when ``WH == V``.

    Examples
    --------
    >>> import numpy as np
    >>> W, H = np.ones((3, 1)), np.ones((1, 4))
    >>> divergence(2 * W @ H, W, H, beta="euclidean")
    6.0
    """
    cost = Cost(beta=beta)
    V = np.ascontiguousarray(V)
    dtype = V.dtype if V.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    Vt = np.ascontiguousarray(V.T, dtype=dtype)
    updates = Updates(Vt, cost)
    with updates.running():
        return updates.cost(np.asarray(W, dtype), np.ascontiguousarray(np.asarray(H, dtype).T))


def kl_divergence(V: np.ndarray, W: np.ndarray, H: np.ndarray) -> float:
    """Generalized Kullback-Leibler divergence ``D(V | W H)``: :func:`divergence` at β = 1.

    ``D = sum(V * log(V / WH) - V + WH)``, with ``0 * log 0 = 0`` and ``W H``
    floored at ``EPSILON`` inside the logarithm, as in the updates.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> W, H = np.ones((3, 1)), np.ones((1, 4))
    >>> nmfaudio.kl_divergence(W @ H, W, H)
    0.0
    >>> round(nmfaudio.kl_divergence(2 * W @ H, W, H), 3)  # 12 entries of 2 log 2 - 1
    4.636
    """
    return divergence(V, W, H, beta="kl")


def nmf(
    V: np.ndarray,
    n_components: int,
    *,
    cost: Cost | None = None,
    fit: Fit | None = None,
    W: np.ndarray | None = None,
    H: np.ndarray | None = None,
    fix_W: bool | np.ndarray = False,
    fix_H: bool | np.ndarray = False,
    dtype: type = np.float32,
    progress: bool = False,
) -> NMFResult:
    """Factorize a non-negative matrix, ``V ~ W @ H``, minimizing a β-divergence plus penalties.

    The cost, for ``V`` of shape (F, T), weighted as a :class:`~nmfaudio.settings.Cost` says::

        D_β(V | W H)
        + T * sparsity_W * sum(W)        + F * sparsity_H * sum(H)
        + T * l2_W / 2 * sum(W ** 2)     + F * l2_H / 2 * sum(H ** 2)
        + F * continuity_H * sum_k T * sum_t (H[k, t] - H[k, t-1]) ** 2 / sum_t H[k, t] ** 2

    (:func:`divergence` gives ``D_β``). The L1 (sparsity) and L2 terms are
    scikit-learn's: ``sparsity_H=a`` is its ``alpha_H=a, l1_ratio=1`` and
    ``l2_H=a`` its ``alpha_H=a, l1_ratio=0``, so the same start gives the same
    factors. The continuity term is Virtanen's (2007) temporal continuity of
    each activation row, normalised by the row's energy, so that it does not
    favour small activations; it is scaled by F like the other H penalties.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
        Non-negative, finite data, typically a magnitude spectrogram.
    n_components : int >= 1
        Number of components K. Unless ``fix_W``, at most ``min(n_freq, n_frames)``.
    cost : Cost or None
        The divergence (β: 0 Itakura-Saito, 1 generalized Kullback-Leibler, 2
        Euclidean, or any β >= 0) and the penalties' weights above; ``None``: KL,
        no penalty. β in {0, 1, 2} has a fast float32 path; others are slower.
    fit : Fit or None
        Most iterations, tolerance (stop when an iteration lowers the cost by
        less than ``tol`` times its previous value; 0 runs them all), start
        (see :func:`initialize`) and seed (the same seed, the same result;
        ``None`` draws a fresh one); ``None``: 200, 1e-4, "random", 0.
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
    dtype : np.float32 or np.float64
        Precision of the computation.
    progress : bool
        Show a progress bar over the iterations.

    Returns
    -------
    NMFResult
        ``W`` with unit-sum learnt columns, ``H`` rescaled so ``W @ H`` is
        unchanged (not with an L1 or L2 penalty, whose cost depends on that
        scale: the factors are then returned as fitted), and the cost after
        each iteration.

    Raises
    ------
    ParameterError
        For a V that is not 2-D, not finite or has negative entries, for
        ``n_components`` out of range, and for bad options or starting factors.

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio.settings import Cost, Fit
    >>> V = np.random.default_rng(0).random((20, 30))
    >>> result = nmf(V, 3, cost=Cost(beta="is", sparsity_H=0.01), fit=Fit(n_iter=50))
    >>> result.W.shape, result.H.shape, result.cost.penalties
    ((20, 3), (3, 30), {'sparsity_H': 0.01})
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ParameterError(f"dtype must be float32 or float64, got {dtype}")
    V = _check_data(V, dtype)
    n_freq, n_frames = V.shape
    n_components = positive_int("n_components", n_components)
    cost, fit = given("cost", cost, Cost), given("fit", fit, Fit)
    fixed = _check_fixed("fix_W", fix_W, n_components)
    if fixed.any() and W is None:
        raise ParameterError("fix_W needs the templates W")
    frozen = _check_fixed("fix_H", fix_H, n_components)
    if frozen.any() and H is None:
        raise ParameterError("fix_H needs the activations H")
    if not fixed.any():
        _check_fits(n_components, n_freq, n_frames)
    W = _check_factor("W", W, (n_freq, n_components), dtype)
    H = _check_factor("H", H, (n_components, n_frames), dtype)
    if W is None or H is None:
        W0, H0 = initialize(V, n_components, fit=fit)
        W = W0 if W is None else W
        H = H0 if H is None else H

    Vt = np.ascontiguousarray(V.T)  # frames as rows: each block of frames is contiguous
    del V  # one copy of the data during the iterations, not two (when the caller let go of it)
    Ht = np.ascontiguousarray(H.T)
    losses = _run(Updates(Vt, cost), W, Ht, fit=fit, fixed=fixed, frozen=frozen, progress=progress)
    H = np.ascontiguousarray(Ht.T)
    if not cost.depends_on_scale:
        scale = np.where(fixed | frozen, 1, W.sum(axis=0))
        scale[scale == 0] = 1
        W /= scale
        H *= scale[:, None]
    return NMFResult(W=W, H=H, losses=losses, cost=cost)


def _check_fits(n_components: int, n_freq: int, n_frames: int) -> None:
    """Raise ParameterError unless ``n_components <= min(n_freq, n_frames)``."""
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
    updates: Updates,
    W: np.ndarray,
    Ht: np.ndarray,
    *,
    fit: Fit,
    fixed: np.ndarray,
    frozen: np.ndarray,
    progress: bool,
) -> np.ndarray:
    """Iterate the updates in place on ``W`` and ``Ht``; return the cost after each iteration.

    Each pass over the data forms the model from the current factors, which
    also yields their cost at no extra cost: the W pass of an iteration
    measures the previous one, and a last pass measures the final factors.
    With W fixed, the H pass both measures and updates, so a stop is noticed
    one update late; that update's cost is then measured too, and the history
    always ends with the cost of the returned factors.
    """
    losses: list[float] = []
    n_iter, tol = fit.n_iter, fit.tol
    with updates.running(), stage("NMF", n_iter, "iterations", enabled=progress) as bar:

        def converged(loss: float) -> bool:
            losses.append(loss)
            bar.update(loss=f"{loss:.5g}")
            done = tol > 0 and len(losses) > 1 and losses[-2] - losses[-1] <= tol * losses[-2]
            if done:
                bar.finish(f"converged after {len(losses)}")
            return done

        for it in range(n_iter):
            if fixed.all():
                loss = updates.update_H(W, Ht, frozen, with_loss=True)
                if it > 0 and converged(loss):
                    break
                continue
            before = W.copy()
            loss = updates.update_W(W, Ht, fixed)
            if it > 0 and converged(loss):
                W[:] = before  # the pass that noticed the stop measured these factors
                return np.asarray(losses, dtype=np.float64)
            updates.update_H(W, Ht, frozen)
        converged(updates.cost(W, Ht))
    return np.asarray(losses, dtype=np.float64)


def initialize(
    V: np.ndarray, n_components: int, *, fit: Fit | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Starting factors for :func:`nmf`, as ``fit.init`` and ``fit.seed`` say.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
    n_components : int
    fit : Fit or None
        ``init="random"``: absolute Gaussian entries scaled by ``sqrt(mean(V) / K)``,
        as scikit-learn does. ``init="nndsvda"``: non-negative double SVD (Boutsidis &
        Gallopoulos, 2008) with zeros replaced by ``mean(V)``; the seed then
        only fixes the start vector of the sparse SVD solver. ``None``: random, seed 0.

    Returns
    -------
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]
    """
    fit = given("fit", fit, Fit)
    rng = np.random.default_rng(random_seed(fit.seed))
    n_freq, n_frames = V.shape
    mean = float(V.mean(dtype=np.float64))
    if fit.init == "random":
        scale = np.sqrt(mean / n_components)
        W = np.abs(scale * rng.standard_normal((n_freq, n_components)))
        H = np.abs(scale * rng.standard_normal((n_components, n_frames)))
        return W.astype(V.dtype), H.astype(V.dtype)
    return _nndsvd(V, n_components, rng, fill=mean)


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
    # In the caller's layout and without temporaries: a spectrogram held frames as rows
    # (as the front end makes it) goes to the updates with no copy at all.
    V = V.astype(dtype, copy=False)
    lowest, highest = V.min(), V.max()  # NaN carries through both
    if not (np.isfinite(lowest) and np.isfinite(highest)):
        raise ParameterError("V contains NaN or infinite values")
    if lowest < 0:
        raise ParameterError(f"V must be non-negative, found {lowest}")
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
