"""The machinery of the multiplicative updates: frame blocks, threads, a fast float32 log.

Layout: the updates (``_updates.py``) hold ``V`` and ``H`` transposed, ``Vt``
(n_frames, n_freq) and ``Ht`` (n_frames, K), so a block of frames is one
contiguous run of memory, and a block's buffers stay in cache. Each worker
thread owns a range of frames, with single-threaded BLAS.

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


#: Most threads this process's work may use (None: every usable core); set by the
#: worker processes of a batch, which share the cores (see :func:`limit_threads`).
_THREAD_BUDGET: int | None = None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, not the machine's count, and no
    more than the budget a batch gave it."""
    cores = len(os.sched_getaffinity(0))
    return min(cores, _THREAD_BUDGET) if _THREAD_BUDGET else cores


def limit_threads(n_threads: int) -> None:
    """Hold this process to ``n_threads`` threads: its own kernels and BLAS alike."""
    global _THREAD_BUDGET
    _THREAD_BUDGET = n_threads
    threadpool_limits(limits=n_threads)


def block_size(n_freq: int) -> int:
    """Frames per block: a block of float32 ratios (n_freq x block) stays near 1 MiB (L2)."""
    return int(np.clip(2**18 // max(n_freq, 1), 16, 256))


class BlockRunner:
    """Runs sweeps over blocks of frames on every core.

    Each worker thread owns a contiguous range of frames and walks it in blocks
    of :func:`block_size` frames; BLAS must be held to one thread meanwhile
    (see :meth:`running`). The kernels release the GIL, so the threads overlap.

    Parameters
    ----------
    Vt : np.ndarray [shape=(n_frames, n_freq)], C-contiguous
    n_threads : int or None
        ``None``: every core this process may use.
    """

    def __init__(self, Vt: np.ndarray, n_threads: int | None = None):
        self.Vt = Vt
        self.block = block_size(Vt.shape[1])
        n_threads = n_threads or usable_cores()
        n_blocks = -(-Vt.shape[0] // self.block)
        cuts = np.linspace(0, n_blocks, min(n_threads, n_blocks) + 1).round().astype(int)
        self.ranges = [(a * self.block, min(b * self.block, Vt.shape[0]))
                       for a, b in itertools.pairwise(cuts)]  # fmt: skip
        self._pool: ThreadPoolExecutor | None = None

    @contextmanager
    def running(self) -> Iterator[BlockRunner]:
        """Start the worker threads, with BLAS held to one thread each."""
        with (
            threadpool_limits(limits=1, user_api="blas"),
            ThreadPoolExecutor(len(self.ranges), thread_name_prefix="nmfaudio") as self._pool,
        ):
            yield self
        self._pool = None

    def _each_range(self, work, *args) -> list:
        """``work(start, stop, *args)`` for each thread's range of frames, in parallel."""
        jobs = [self._pool.submit(work, start, stop, *args) for start, stop in self.ranges]
        return [job.result() for job in jobs]

    def _blocks(self, start: int, stop: int):
        """Yield ``(frames, Vt block flat, buffer A, buffer B)`` for each block of a range.

        The two buffers, each of the block's shape, are the thread's own scratch.
        """
        buffers = np.empty((2, self.block, self.Vt.shape[1]), self.Vt.dtype)
        for b0 in range(start, stop, self.block):
            b1 = min(b0 + self.block, stop)
            n = b1 - b0
            yield slice(b0, b1), self.Vt[b0:b1].ravel(), buffers[0, :n], buffers[1, :n]


@numba.njit(nogil=True, cache=True)
def _sliding_medians(padded: np.ndarray, width: int, out: np.ndarray) -> None:
    """``out[i, j]``: the median of ``padded[i, j : j + width]`` (``width`` odd), a sorted
    window kept from one to the next: O(width) a value, against scipy's sort of each."""
    middle = width // 2
    for i in range(padded.shape[0]):
        window = np.sort(padded[i, :width])
        out[i, 0] = window[middle]
        for j in range(1, out.shape[1]):
            old, new = padded[i, j - 1], padded[i, j + width - 1]
            k = np.searchsorted(window, old)  # where the value leaving is
            if new > old:
                while k + 1 < width and window[k + 1] < new:
                    window[k] = window[k + 1]
                    k += 1
            else:
                while k > 0 and window[k - 1] > new:
                    window[k] = window[k - 1]
                    k -= 1
            window[k] = new
            out[i, j] = window[middle]


def median_filtered(x: np.ndarray, width: int) -> np.ndarray:
    """Each row of a 2-D array under a running median of ``width`` (odd) values, the row
    reflected at its ends as often as the window needs: the same numbers as
    ``scipy.ndimage.median_filter(x, size=(1, width), mode="reflect")`` where a row is
    reflected once; past that scipy 1.17 reads garbage (3.2e-322 for 0 on rows of two
    values). The rows are shared among threads (the kernel releases the GIL)."""
    padded = np.pad(x, ((0, 0), (width // 2, width // 2)), mode="symmetric")
    out = np.empty_like(x)
    cuts = np.linspace(0, len(x), max(min(usable_cores(), len(x)), 1) + 1).round().astype(int)
    with ThreadPoolExecutor(len(cuts) - 1, thread_name_prefix="nmfaudio") as pool:
        rows = [slice(a, b) for a, b in itertools.pairwise(cuts)]  # a range of rows a thread
        list(pool.map(lambda r: _sliding_medians(padded[r], width, out[r]), rows))
    return out
