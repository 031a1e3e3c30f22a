"""The multiplicative updates of β-NMF with penalties: the one file a new cost touches.

Cost minimised over non-negative ``W`` (F x K) and ``H`` (K x T)::

    D_β(V | W H)                                          the divergence
    + T * sparsity_W * sum(W)     + F * sparsity_H * sum(H)           L1
    + T * l2_W / 2 * sum(W ** 2)  + F * l2_H / 2 * sum(H ** 2)        L2
    + F * continuity_H * sum_k  T * sum_t (H[k, t] - H[k, t-1]) ** 2 / sum_t H[k, t] ** 2

with ``d_β(x | y) = (x**β + (β - 1) y**β - β x y**(β-1)) / (β (β - 1))`` summed
over the entries: Itakura-Saito ``x/y - log(x/y) - 1`` at β = 0, generalized
KL ``x log(x/y) - x + y`` at β = 1, ``(x - y)**2 / 2`` at β = 2. The L1 and L2
penalties are scikit-learn's (``alpha_W``, ``alpha_H``, ``l1_ratio``), scaled
as it scales them; the continuity cost is Virtanen's (2007), each activation
row's squared differences normalised by its energy.

Each factor is updated by the heuristic of Févotte & Idier (2011), as
scikit-learn's ``solver="mu"``: split the gradient of the cost into its positive
and negative parts, ``factor *= (negative / positive) ** gamma``, with
``gamma = 1 / (2 - β)`` below β = 1, ``1 / (β - 1)`` above β = 2 and 1 between.
For W (with P = (W H) ** (β - 2))::

    negative = (V * P) H^T            positive = (W H * P) H^T + L1 + L2 * W

and the same for H with W^T on the left, plus the continuity gradient.

How the work is done: ``V`` and ``H`` are held transposed (frames as rows), a
block of frames at a time; each block's ``W H`` is formed by one small product,
turned by one loop into the two element-wise terms above (and the block's
divergence, when asked), and multiplied back. No F x T array is made. For
β = 1 the positive part is ``sum(H)``, one term; for β = 2 the model is never
formed at all: ``V H^T`` and ``W (H H^T)`` are the whole update.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import BlockRunner, _jit, _log
from .settings import Cost

#: Floor of W H in the update terms and the divergence, as in scikit-learn.
EPSILON = float(np.finfo(np.float32).eps)

#: Activations below this are set to zero after each H update, as scikit-learn does for
#: β <= 1; here for every β, which keeps them out of subnormal (100x slower) arithmetic.
H_FLOOR = float(np.finfo(np.float64).eps)


def gamma(beta: float) -> float:
    """Exponent of the update ratio that makes it decrease the divergence (Févotte & Idier)."""
    if beta < 1:
        return 1 / (2 - beta)
    if beta > 2:
        return 1 / (beta - 1)
    return 1.0


_TERMS_PER_SUM = 256  # elements per partial sum of a loss, in the arrays' precision

# The element-wise loops below are written for the vectorizer: full chunks of a constant
# trip count, then the tail; no branch on a flag inside a loop (measured: a runtime trip
# count and a with_loss test inside the chunk made the KL loop 3x slower).


@_jit
def kl_terms(V, A, eps, with_loss):
    """``A`` (holding W H) <- ``V / max(W H, eps)``; return ``D_KL`` of the block, or 0.

    Flat arrays of one length. Each chunk of terms is summed in the arrays'
    precision (which keeps the loop vectorized), the chunk sums in float64.
    """
    if not with_loss:
        for j in range(A.size):
            wh = A[j]
            A[j] = V[j] / (wh if wh > eps else eps)
        return 0.0
    zero = eps - eps
    n_full = A.size // _TERMS_PER_SUM
    total = 0.0
    for c in range(n_full):
        base = c * _TERMS_PER_SUM
        linear = zero
        for j in range(base, base + _TERMS_PER_SUM):
            v = V[j]
            wh = A[j]
            A[j] = v / (wh if wh > eps else eps)
            linear += wh - v
        logs = zero
        for j in range(base, base + _TERMS_PER_SUM):  # a second sweep: fused, it does not vectorize
            r = A[j]
            logs += V[j] * _log(r if r > 0 else eps)  # 0 where v == 0
        total += linear + logs
    for j in range(n_full * _TERMS_PER_SUM, A.size):
        v = V[j]
        wh = A[j]
        r = v / (wh if wh > eps else eps)
        A[j] = r
        total += (wh - v) + v * _log(r if r > 0 else eps)
    return total


@_jit
def is_terms(V, A, B, eps, with_loss):
    """``A`` (holding W H) <- ``V / WH**2``, ``B`` <- ``1 / WH``, W H floored at eps;
    return ``D_IS`` of the block, or 0.

    Entries where ``V`` is 0 are left out of the divergence (it is infinite there).
    """
    one = eps / eps
    for j in range(A.size):
        wh = A[j]
        inverse = one / (wh if wh > eps else eps)
        B[j] = inverse
        A[j] = V[j] * inverse * inverse
    if not with_loss:
        return 0.0
    zero = eps - eps
    n_full = A.size // _TERMS_PER_SUM
    total = 0.0
    for c in range(n_full):
        base = c * _TERMS_PER_SUM
        part = zero
        for j in range(base, base + _TERMS_PER_SUM):
            v = V[j]
            r = v * B[j]
            part += r - _log(r if r > 0 else one) - one if v > 0 else zero
        total += part
    for j in range(n_full * _TERMS_PER_SUM, A.size):
        v = V[j]
        r = v * B[j]
        total += r - _log(r if r > 0 else one) - one if v > 0 else zero
    return total


def beta_terms(V, A, B, beta, eps, with_loss):
    """``A`` (holding W H) <- ``V * WH**(β-2)``, ``B`` <- ``WH**(β-1)``; return the divergence
    of the block without its ``sum(V**β)`` term, or 0. Flat arrays; β not 0, 1 or 2.

    As scikit-learn: W H floored at eps in both terms below β = 1, in the first
    below β = 2, and in the divergence's cross term. In numpy, not numba: its
    float32 power is vectorized (measured: 10x faster than numba's scalar pow).
    """
    small = A <= eps  # where the floors bite: few entries, fixed up one by one
    base = np.maximum(A, eps) if beta < 2 else A
    p = np.power(base, beta - 2)
    np.multiply(base, p, out=B)  # base ** (β - 1)
    fix = small.any()
    if fix and beta >= 1:
        B[small] = A[small] ** (beta - 1)  # the positive part is not floored from β = 1 on
    total = 0.0
    if with_loss:
        powers = np.einsum("i,i->", A, B, dtype=np.float64)  # sum of WH**β ...
        cross = np.einsum("i,i->", V, B, dtype=np.float64)  # ... and of V * WH**(β-1)
        if fix:
            wh, floored = A[small].astype(np.float64), float(eps)
            if beta < 1:
                powers += np.sum(wh**beta - wh * B[small])
            else:
                cross += np.sum(V[small] * (floored ** (beta - 1) - B[small]))
        total = ((beta - 1) * powers - beta * cross) / (beta * (beta - 1))
    np.multiply(V, p, out=A)
    return float(total)


@_jit
def multiply(X, numerator, denominator, l1, l2, gamma, floor, keep):
    """``X *= (numerator / (denominator + l1 + l2 X)) ** gamma`` where ``keep`` is False.

    The penalties' positive gradients enter here and nowhere else. Columns of
    ``X`` where ``keep`` is True are left as they are; entries that fall below
    ``floor`` become 0; an empty denominator counts as EPSILON (as scikit-learn).
    ``denominator`` may be a row vector, broadcast over the rows.
    """
    rows, columns = X.shape
    one_row = denominator.shape[0] == 1
    for i in range(rows):
        d_row = 0 if one_row else i
        for k in range(columns):
            if keep[k]:
                continue
            x = X[i, k]
            d = denominator[d_row, k] + l1 + l2 * x
            ratio = numerator[i, k] / (d if d != 0 else EPSILON)
            x = x * (ratio if gamma == 1 else ratio**gamma)
            X[i, k] = x if x >= floor else 0


@_jit
def _row_statistics(Ht):
    """Energy ``sum_t h_t**2`` and roughness ``sum_t (h_t - h_{t-1})**2`` of each row of H."""
    n_frames, n_components = Ht.shape
    energy = np.zeros(n_components)
    roughness = np.zeros(n_components)
    for t in range(n_frames):
        for k in range(n_components):
            h = np.float64(Ht[t, k])
            energy[k] += h * h
            if t > 0:
                step = h - Ht[t - 1, k]
                roughness[k] += step * step
    return energy, roughness


@_jit
def continuity_gradient(Ht):
    """Negative and positive parts of the continuity cost's gradient, each shaped as ``Ht``.

    For row k of H with energy ``S = sum_t h_t**2`` and roughness
    ``D = sum_t (h_t - h_{t-1})**2``, the cost ``T D / S`` has gradient
    ``2T (n_t h_t - h_{t-1} - h_{t+1}) / S - 2T D h_t / S**2`` (``n_t`` the
    number of neighbours of frame t); the first and last terms are the
    positive part (Virtanen, 2007, with exact ends).
    """
    n_frames, n_components = Ht.shape
    energy, roughness = _row_statistics(Ht)
    scale = 2.0 * n_frames / np.maximum(energy, 1e-300)
    shrink = scale * roughness / np.maximum(energy, 1e-300)
    negative = np.empty_like(Ht)
    positive = np.empty_like(Ht)
    for t in range(n_frames):
        neighbours = (t > 0) + (t < n_frames - 1)
        for k in range(n_components):
            before = Ht[t - 1, k] if t > 0 else 0.0
            after = Ht[t + 1, k] if t < n_frames - 1 else 0.0
            positive[t, k] = scale[k] * neighbours * Ht[t, k]
            negative[t, k] = scale[k] * (before + after) + shrink[k] * Ht[t, k]
    return negative, positive


def continuity_cost(Ht: np.ndarray) -> float:
    """``sum_k T sum_t (h_kt - h_k,t-1)**2 / sum_t h_kt**2`` (rows of zeros cost 0)."""
    energy, roughness = _row_statistics(Ht)
    used = energy > 0
    return float(len(Ht) * np.sum(roughness[used] / energy[used]))


class Updates(BlockRunner):
    """Both multiplicative updates and the cost, for one ``V``, β and set of penalties.

    Parameters
    ----------
    Vt : np.ndarray [shape=(n_frames, n_freq)], C-contiguous
        The data, transposed.
    cost : Cost
        β and the penalties' weights.
    n_threads : int or None
        ``None``: every core this process may use.

    The updates work in place on ``W`` (n_freq, K) and ``Ht`` (n_frames, K),
    and need the worker threads running (:meth:`running`).
    """

    def __init__(self, Vt: np.ndarray, cost: Cost, n_threads: int | None = None):
        super().__init__(Vt, n_threads)
        self.beta = cost.beta
        self.gamma = gamma(self.beta)
        self.eps = Vt.dtype.type(EPSILON)
        n_frames, n_freq = Vt.shape
        # Penalties scaled as scikit-learn scales alpha: by the other dimension of V.
        self._l1_W, self._l2_W = n_frames * cost.sparsity_W, n_frames * cost.l2_W
        self._l1_H, self._l2_H = n_freq * cost.sparsity_H, n_freq * cost.l2_H
        self._continuity = n_freq * cost.continuity_H
        # The part of the divergence that depends on V alone (β not 0 or 1).
        self._constant = 0.0
        if self.beta not in (0, 1):  # sum(V ** β) / (β (β - 1)), a block of frames at a time
            total = math.fsum(
                float(np.sum(Vt[t : t + 4096].astype(np.float64) ** self.beta))
                for t in range(0, len(Vt), 4096)
            )
            self._constant = total / (self.beta * (self.beta - 1))
        # W entries that decay towards zero (bands the recording never reaches) would turn
        # subnormal, and subnormal arithmetic is ~100x slower: flush them. Such an entry adds
        # less than 1e-14 to W H wherever H is below 1e8, far under the EPSILON floor of W H.
        # Below β = 1 the floor is scikit-learn's, "necessary for stability".
        tiny = np.finfo(Vt.dtype).tiny / H_FLOOR
        self._w_floor = max(tiny, H_FLOOR) if self.beta < 1 else tiny

    # ---- the cost ------------------------------------------------------------------

    def penalty(self, W: np.ndarray, Ht: np.ndarray) -> float:
        """The penalties' part of the cost at ``W``, ``H``."""
        total = 0.0
        for factor, l1, l2 in ((W, self._l1_W, self._l2_W), (Ht, self._l1_H, self._l2_H)):
            if l1:
                total += l1 * float(factor.sum(dtype=np.float64))
            if l2:
                total += l2 / 2 * float(np.einsum("ij,ij->", factor, factor, dtype=np.float64))
        if self._continuity:
            total += self._continuity * continuity_cost(Ht)
        return total

    def cost(self, W: np.ndarray, Ht: np.ndarray) -> float:
        """Divergence plus penalties at ``W``, ``H``."""
        if self.beta == 2:
            cross = math.fsum(self._each_range(self._euclid_h_work, W, Ht, None, True))
            return self._euclid_cost(W, Ht, cross, Ht.T @ Ht)
        divergence = math.fsum(self._each_range(self._model_work, W, Ht))
        return self._constant + divergence + self.penalty(W, Ht)

    # ---- W ------------------------------------------------------------------------

    def update_W(self, W: np.ndarray, Ht: np.ndarray, keep: np.ndarray) -> float:
        """One update of the columns of W where ``keep`` is False; return the cost before it."""
        results = self._each_range(self._w_work, W, Ht)
        numerator = sum(r[0] for r in results).T
        if self.beta == 2:
            cross = float(np.einsum("fk,fk->", W, numerator, dtype=np.float64))
            activation_gram = Ht.T @ Ht
            cost = self._euclid_cost(W, Ht, cross, activation_gram)
            denominator = W @ activation_gram
        else:
            cost = self._constant + math.fsum(r[2] for r in results) + self.penalty(W, Ht)
            if self.beta == 1:
                denominator = Ht.sum(axis=0, keepdims=True)
            else:
                denominator = sum(r[1] for r in results).T
        multiply(W, numerator, denominator, W.dtype.type(self._l1_W),
                 W.dtype.type(self._l2_W), self.gamma, self._w_floor, keep)  # fmt: skip
        return cost

    def _w_work(self, start, stop, W, Ht):
        K, n_freq = W.shape[1], W.shape[0]
        numerator = np.zeros((K, n_freq), W.dtype)
        denominator = None if self.beta in (1, 2) else np.zeros((K, n_freq), W.dtype)
        divergence = 0.0
        for frames, V, A, B in self._blocks(start, stop):
            H_block = Ht[frames]
            if self.beta == 2:
                numerator += H_block.T @ self.Vt[frames]
                continue
            divergence += self._terms(V, A, B, W, H_block, with_loss=True)
            numerator += H_block.T @ A
            if denominator is not None:
                denominator += H_block.T @ B
        return numerator, denominator, divergence

    # ---- H ------------------------------------------------------------------------

    def update_H(self, W: np.ndarray, Ht: np.ndarray, keep: np.ndarray, *,
                 with_loss: bool = False) -> float:  # fmt: skip
        """One update of the rows of H where ``keep`` is False, in place on ``Ht``.

        Returns the cost before the update with ``with_loss`` (else 0).
        """
        extra = continuity_gradient(Ht) if self._continuity else None
        penalty = self.penalty(W, Ht) if with_loss else 0.0
        if self.beta == 2:
            gram = W.T @ W
            quadratic = self._quadratic(gram, Ht.T @ Ht) if with_loss else 0.0
            update = (gram, extra, keep)
            cross = math.fsum(self._each_range(self._euclid_h_work, W, Ht, update, with_loss))
            return self._constant - cross + quadratic + penalty if with_loss else 0.0
        denominator = W.sum(axis=0, keepdims=True) if self.beta == 1 else None
        if denominator is not None:
            denominator[denominator == 0] = 1  # a silent template: its activations stay
        divergence = math.fsum(
            self._each_range(self._h_work, W, Ht, denominator, extra, keep, with_loss)
        )
        return self._constant + divergence + penalty if with_loss else 0.0

    def _h_work(self, start, stop, W, Ht, denominator, extra, keep, with_loss):
        divergence = 0.0
        for frames, V, A, B in self._blocks(start, stop):
            divergence += self._terms(V, A, B, W, Ht[frames], with_loss)
            numerator = A @ W
            block_denominator = denominator if denominator is not None else B @ W
            self._multiply_H(Ht, frames, numerator, block_denominator, extra, keep)
        return divergence

    def _euclid_h_work(self, start, stop, W, Ht, update, with_loss):
        """β = 2: ``<H, W^T V>`` (with ``with_loss``) and, given ``update = (W^T W,
        continuity terms, keep)``, ``H *= W^T V / (W^T W H)`` block by block after it."""
        cross = 0.0
        for frames, _, _, _ in self._blocks(start, stop):
            numerator = self.Vt[frames] @ W
            if with_loss:
                cross += float(np.einsum("tk,tk->", Ht[frames], numerator, dtype=np.float64))
            if update is not None:
                gram, extra, keep = update
                self._multiply_H(Ht, frames, numerator, Ht[frames] @ gram, extra, keep)
        return cross

    def _multiply_H(self, Ht, frames, numerator, denominator, extra, keep):
        if extra is not None:
            numerator = numerator + self._continuity * extra[0][frames]
            denominator = denominator + self._continuity * extra[1][frames]
        multiply(Ht[frames], numerator, denominator, Ht.dtype.type(self._l1_H),
                 Ht.dtype.type(self._l2_H), self.gamma, H_FLOOR, keep)  # fmt: skip

    # ---- shared pieces -------------------------------------------------------------

    def _terms(self, V, A, B, W, H_block, with_loss) -> float:
        """Form the block's model in ``A``, turn it into the update terms; the divergence."""
        np.matmul(H_block, W.T, out=A)
        if self.beta == 1:
            return kl_terms(V, A.ravel(), self.eps, with_loss)
        if self.beta == 0:
            return is_terms(V, A.ravel(), B.ravel(), self.eps, with_loss)
        return beta_terms(V, A.ravel(), B.ravel(), self.beta, self.eps, with_loss)

    def _model_work(self, start, stop, W, Ht):
        return sum(
            self._terms(V, A, B, W, Ht[frames], with_loss=True)
            for frames, V, A, B in self._blocks(start, stop)
        )

    @staticmethod
    def _quadratic(template_gram: np.ndarray, activation_gram: np.ndarray) -> float:
        """``|W H|**2 / 2`` from ``W^T W`` and ``H H^T``, without forming W H."""
        return 0.5 * float(np.einsum("jk,jk->", template_gram, activation_gram, dtype=np.float64))

    def _euclid_cost(self, W, Ht, cross: float, activation_gram: np.ndarray) -> float:
        """``|V - W H|**2 / 2 + penalties`` from ``<W H, V> = cross`` and ``H H^T``."""
        quadratic = self._quadratic(W.T @ W, activation_gram)
        return self._constant - cross + quadratic + self.penalty(W, Ht)
