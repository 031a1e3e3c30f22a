"""The work of the multiplicative updates: frame blocks, BLAS for products, numba for the rest.

Layout: the engine holds ``V`` and ``H`` transposed, ``Vt`` (n_frames, n_freq)
and ``Ht`` (n_frames, K), so a block of frames is one contiguous run of memory.
For each block, ``W H`` is formed by one small matrix product into a buffer
that stays in cache; one loop turns it into ``R = V / max(W H, eps)`` and,
when asked, the divergence of that block; a second product gives the block's
share of the update. No F x T temporary is ever made. Each worker thread owns a
range of frames, with single-threaded BLAS.

The loops run in Python threads rather than numba's ``prange``: numba cannot
cache a function that calls BLAS, and compiling one costs ~20 s per process.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload
from threadpoolctl import threadpool_limits

#: Activations below this are set to zero after each H update, as scikit-learn does for KL.
H_FLOOR = float(np.finfo(np.float64).eps)

# Fast-math without 'arcp' and 'afn': sums may be reordered and multiply-adds fused,
# but divisions stay exact, so R is bit-for-bit the plain V / max(W H, eps).
_FASTMATH = {"nnan", "ninf", "nsz", "reassoc", "contract"}
_jit = numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, error_model="numpy")


@intrinsic
def _float32_bits(typingctx, x):
    """The IEEE-754 bit pattern of a float32, as an int32 (a register move, vectorizable)."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


def _log(x):
    """Natural logarithm of a positive finite number (numba only; see the overloads)."""
    return math.log(x)


@overload(_log, fastmath=_FASTMATH)
def _log_overload(x):
    if x == types.float64:
        return lambda x: math.log(x)
    if x != types.float32:
        return None
    ln2 = np.float32(math.log(2.0))
    sqrt2 = np.float32(math.sqrt(2.0))
    one, half = np.float32(1.0), np.float32(0.5)
    c = tuple(np.float32(v) for v in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1,
                                 -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
                                 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1))  # fmt: skip

    def log32(x):
        # Cephes logf: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by a polynomial
        # in m - 1. Branch-free and without division, so loops over it vectorize; error
        # within a few float32 ulps.
        bits = _float32_bits(x)
        e = np.float32(((bits >> 23) & 0xFF) - 127)
        m = one + np.float32(bits & 0x007FFFFF) * np.float32(2.0**-23)
        big = m > sqrt2
        m = half * m if big else m
        e = e + one if big else e
        y = m - one
        z = y * y
        p = c[0]
        p = p * y + c[1]
        p = p * y + c[2]
        p = p * y + c[3]
        p = p * y + c[4]
        p = p * y + c[5]
        p = p * y + c[6]
        p = p * y + c[7]
        p = p * y + c[8]
        return e * ln2 + (y - half * z + p * y * z)

    return log32


#: Elements per float32 partial sum of the loss, flushed into a float64 total.
_TERMS_PER_SUM = 256


@_jit
def ratio_and_divergence(V: np.ndarray, R: np.ndarray, eps: float) -> float:
    """Overwrite ``R`` (holding ``W H``) with ``V / max(W H, eps)``; return ``D(V | W H)``.

    Both arrays are flat and of one length, and ``eps`` has their dtype. The floor
    guards the ratio and its logarithm only, so a zero model of zero data has zero
    loss. Each chunk of terms is summed in the arrays' precision (which keeps the
    loop vectorized) and the chunk sums in float64.
    """
    zero = eps - eps  # a zero of the arrays' dtype
    n_full = R.size // _TERMS_PER_SUM
    total = 0.0
    for c in range(n_full):
        base = c * _TERMS_PER_SUM
        linear = zero
        for j in range(base, base + _TERMS_PER_SUM):
            v = V[j]
            wh = R[j]
            R[j] = v / (wh if wh > eps else eps)
            linear += wh - v
        logs = zero
        for j in range(base, base + _TERMS_PER_SUM):  # a second sweep: fused, it does not vectorize
            r = R[j]
            logs += V[j] * _log(r if r > 0 else eps)  # 0 where v == 0
        total += linear + logs
    for j in range(n_full * _TERMS_PER_SUM, R.size):
        v = V[j]
        wh = R[j]
        r = v / (wh if wh > eps else eps)
        R[j] = r
        total += (wh - v) + v * _log(r if r > 0 else eps)
    return total


@_jit
def ratio(V: np.ndarray, R: np.ndarray, eps: float) -> None:
    """Overwrite ``R`` (holding ``W H``) with ``V / max(W H, eps)``; flat arrays."""
    for i in range(R.size):
        wh = R[i]
        R[i] = V[i] / (wh if wh > eps else eps)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def block_size(n_freq: int) -> int:
    """Frames per block: a block of float32 ratios (n_freq x block) stays near 1 MiB (L2)."""
    return int(np.clip(2**18 // max(n_freq, 1), 16, 256))


class Engine:
    """Runs the sweeps of the multiplicative updates on every core.

    Each worker thread owns a contiguous range of frames and walks it in blocks
    of :func:`block_size` frames; BLAS must be held to one thread meanwhile
    (see :meth:`running`). The kernels release the GIL, so the threads overlap.

    Parameters
    ----------
    Vt : np.ndarray [shape=(n_frames, n_freq)], C-contiguous
    eps : float
        Floor of ``W H`` in the ratio.
    n_threads : int or None
        ``None``: every core this process may use.
    """

    def __init__(self, Vt: np.ndarray, eps: float, n_threads: int | None = None):
        self.Vt = Vt
        self.eps = Vt.dtype.type(eps)
        self.block = block_size(Vt.shape[1])
        n_threads = n_threads or usable_cores()
        n_blocks = -(-Vt.shape[0] // self.block)
        cuts = np.linspace(0, n_blocks, min(n_threads, n_blocks) + 1).round().astype(int)
        self.ranges = [(a * self.block, min(b * self.block, Vt.shape[0]))
                       for a, b in itertools.pairwise(cuts)]  # fmt: skip
        self._pool: ThreadPoolExecutor | None = None

    @contextmanager
    def running(self) -> Iterator[Engine]:
        """Start the worker threads, with BLAS held to one thread each."""
        with (
            threadpool_limits(limits=1, user_api="blas"),
            ThreadPoolExecutor(len(self.ranges), thread_name_prefix="nmfaudio") as self._pool,
        ):
            yield self
        self._pool = None

    def _each_range(self, work, *args) -> list:
        jobs = [self._pool.submit(work, start, stop, *args) for start, stop in self.ranges]
        return [job.result() for job in jobs]

    def _blocks(self, start: int, stop: int):
        """Yield ``(frames, Vt block flat, ratio buffer)`` for each block of a range."""
        buffer = np.empty((self.block, self.Vt.shape[1]), self.Vt.dtype)
        for b0 in range(start, stop, self.block):
            b1 = min(b0 + self.block, stop)
            yield slice(b0, b1), self.Vt[b0:b1].ravel(), buffer[: b1 - b0]

    def _ratio(self, frames, V, R, W, Ht, with_loss: bool) -> float:
        """Fill ``R`` with the block's ``V / max(W H, eps)``; its divergence if ``with_loss``."""
        np.matmul(Ht[frames], W.T, out=R)
        if with_loss:
            return ratio_and_divergence(V, R.ravel(), self.eps)
        ratio(V, R.ravel(), self.eps)
        return 0.0

    def _w_work(self, start, stop, W, Ht, measure_only):
        numerator = None if measure_only else np.zeros((W.shape[1], W.shape[0]), W.dtype)
        loss = 0.0
        for frames, V, R in self._blocks(start, stop):
            loss += self._ratio(frames, V, R, W, Ht, with_loss=True)
            if numerator is not None:
                numerator += Ht[frames].T @ R  # (K, n_freq)
        return numerator, loss

    def w_pass(self, W: np.ndarray, Ht: np.ndarray, *, measure_only: bool = False):
        """Return ``((V / WH) H^T, D(V | WH))``; the first is None with ``measure_only``."""
        results = self._each_range(self._w_work, W, Ht, measure_only)
        loss = math.fsum(loss for _, loss in results)
        if measure_only:
            return None, loss
        return sum(numerator for numerator, _ in results).T, loss

    def _h_work(self, start, stop, W, Ht, denominator, with_loss):
        loss = 0.0
        for frames, V, R in self._blocks(start, stop):
            loss += self._ratio(frames, V, R, W, Ht, with_loss)
            scale_activations(Ht[frames], R @ W, denominator)
        return loss

    def h_pass(self, W: np.ndarray, Ht: np.ndarray, *, with_loss: bool = False) -> float:
        """Update ``Ht`` in place, ``H <- H * (W^T (V / WH)) / sum_f W``; return the loss before.

        The loss is only measured (else 0 is returned) with ``with_loss``.
        """
        denominator = W.sum(axis=0)
        denominator[denominator == 0] = 1
        return math.fsum(self._each_range(self._h_work, W, Ht, denominator, with_loss))


@_jit
def scale_activations(Ht: np.ndarray, numerator: np.ndarray, denominator: np.ndarray) -> None:
    """``Ht *= numerator / denominator`` row by row, then zero what fell below H_FLOOR."""
    n_frames, n_components = Ht.shape
    for t in range(n_frames):
        for k in range(n_components):
            h = Ht[t, k] * (numerator[t, k] / denominator[k])
            Ht[t, k] = h if h >= H_FLOOR else 0
