"""Stage 3, the back end: soft (alpha-Wiener) masks -> masked STFT per channel -> signal.

The masks of all components sum to one at every time-frequency point, and
the inverse STFT is linear, so the components add back up to the input.
Components are produced one at a time: never K complex spectrograms at once.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import librosa
import numba
import numpy as np
import scipy.fft

from ._checks import mask_power
from ._kernels import usable_cores
from .exceptions import ParameterError
from .frontend import FRAMES_PER_CHUNK, STFTConfig, frame_blocks, frame_span, stft_frames


def scaled_for_masks(W: np.ndarray, H: np.ndarray, power: float) -> np.ndarray:
    """``W``, or a copy scaled by a power of two so that no ``power`` of the models
    ``W H`` overflows float32; the masks are the same either way.

    Masks are unchanged by a common scale of the models, and a power of two
    scales floats exactly. Up to ``power`` 2, ``W`` itself: models of audio within
    nmfaudio's limits (samples up to 1e9, n_fft up to 65536) stay below 3.3e13,
    whose square is far inside float32, so the masks are left bit for bit as
    they were. Above, every entry of ``W H`` is brought to at most 1 (``power`` 24
    on ``W`` itself made NaN masks); the bound is ``sum_k max(W[:, k]) max(H[k])``,
    which ``W H`` never exceeds.
    """
    if power <= 2:
        return W
    bound = float(np.max(W, axis=0, initial=0).astype(np.float64) @ np.max(H, axis=1, initial=0))
    if not 0 < bound < float("inf"):
        return W
    return W * W.dtype.type(2.0 ** -np.ceil(np.log2(bound)))


def mask_denominator(
    W: np.ndarray,
    H: np.ndarray,
    *,
    power: float,
    groups: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """``sum_g (W_g H_g)^power``, the normalizer of the soft masks.

    ``W_g H_g`` is the model of group ``g``, the sum of its components'
    ``W[:, k] H[k]``; without groups every component is its own group. For
    powers above 2, pass ``scaled_for_masks(W, H, power)``, whose powers stay finite.

    Parameters
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]
    power : float > 0
    groups : sequence of sequences of int, or None
        Component indices of each group; ``None``: each component alone.

    Returns
    -------
    np.ndarray [shape=(n_freq, n_frames)]
    """
    power = mask_power(power, "power")
    members = check_groups(groups, W.shape[1])
    # Computed frames-as-rows, (n_frames, n_freq) in memory, like the STFT.
    if power == 1:  # the groups partition the components: their sum is W H
        return (H.T @ W.T).T
    dtype = np.result_type(W, H)
    W, H = np.ascontiguousarray(W, dtype=dtype), np.ascontiguousarray(H, dtype=dtype)
    flat = np.concatenate(members)
    offsets = np.cumsum([0] + [len(m) for m in members])
    total = np.empty((H.shape[1], W.shape[0]), dtype=dtype)
    cuts = np.linspace(0, H.shape[1], usable_cores() + 1).astype(int)
    with ThreadPoolExecutor(len(cuts) - 1) as pool:  # the kernel releases the GIL
        jobs = [
            pool.submit(_power_sum, W, H, flat, offsets, dtype.type(power), t0, t1, total)
            for t0, t1 in itertools.pairwise(cuts)
        ]
        for job in jobs:
            job.result()
    return total.T


@numba.njit(inline="always")
def _group_model(W, H, members, t, power, part):
    """``part = (sum_{k in members} W[:, k] H[k, t]) ** power``, in place."""
    part[:] = 0
    for k in members:
        h = H[k, t]
        for f in range(part.shape[0]):
            part[f] += W[f, k] * h
    # A loop per exponent, so that each one vectorizes; x ** p is a slow library call.
    if power == 2:
        for f in range(part.shape[0]):
            part[f] *= part[f]
    elif power != 1:
        for f in range(part.shape[0]):
            part[f] = part[f] ** power


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _power_sum(W, H, members, offsets, power, t0, t1, out_t):
    """``out_t[t] = sum_g (W_g H_g[:, t])^power`` for frames ``t0 <= t < t1``.

    Group ``g`` is ``members[offsets[g]:offsets[g + 1]]``.
    """
    part = np.empty(W.shape[0], W.dtype)
    for t in range(t0, t1):
        out_t[t, :] = 0
        for g in range(len(offsets) - 1):
            _group_model(W, H, members[offsets[g] : offsets[g + 1]], t, power, part)
            for f in range(part.shape[0]):
                out_t[t, f] += part[f]


def soft_mask(
    W: np.ndarray,
    H: np.ndarray,
    k: int,
    *,
    power: float,
    denominator: np.ndarray | None = None,
    groups: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """Soft (alpha-Wiener) mask of group ``k``: ``(W_k H_k)^power / sum_g (W_g H_g)^power``.

    Without groups, group ``k`` is component ``k`` alone. Where every group's
    model is zero the mask is ``1 / n_groups``, so the masks still sum to one.

    Parameters
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]
    k : int
        Group (or component) index.
    power : float > 0
        Mask exponent: 1 gives magnitude-ratio masks, 2 Wiener masks (the
        models taken as power spectra); larger values approach binary masks.
    denominator : np.ndarray [shape=(n_freq, n_frames)] or None
        ``mask_denominator(W, H, power=power, groups=groups)``, to reuse across groups;
        without it, the models are scaled by :func:`scaled_for_masks` for both terms.
    groups : sequence of sequences of int, or None
        Component indices of each group; ``None``: each component alone.

    Returns
    -------
    np.ndarray [shape=(n_freq, n_frames)], values in [0, 1]
        Component (or group) ``k``'s share of each bin; the masks of all sum to one.

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio.backend import soft_mask
    >>> W, H = np.array([[1.0, 0.0], [1.0, 1.0]]), np.ones((2, 3))
    >>> soft_mask(W, H, 0, power=2.0)  # component 0's share: all of bin 0, half of bin 1
    array([[1. , 1. , 1. ],
           [0.5, 0.5, 0.5]])
    >>> bool(np.allclose(soft_mask(W, H, 0, power=2.0) + soft_mask(W, H, 1, power=2.0), 1))
    True
    """
    groups = check_groups(groups, W.shape[1])
    if not 0 <= k < len(groups):
        raise IndexError(f"component {k} out of range for {len(groups)} components")
    if denominator is None:
        W = scaled_for_masks(W, H, power)
        denominator = mask_denominator(W, H, power=power, groups=groups)
    numerator = W[:, groups[k]] @ H[groups[k]]
    if power != 1:
        numerator **= power
    empty = denominator <= 0
    mask = np.divide(numerator, denominator, out=numerator, where=~empty)
    mask[empty] = 1.0 / len(groups)
    return mask


def check_groups(groups: Sequence[Sequence[int]] | None, n_components: int) -> list[np.ndarray]:
    """Each group's component indices, checked; ``None`` gives every component alone.

    The groups must partition the components (each in exactly one group), so
    that their masks sum to one.
    """
    if groups is None:
        return [np.array([k]) for k in range(n_components)]
    checked = []
    for group in groups:
        members = np.asarray(group, dtype=np.int64)
        if members.ndim != 1 or members.size == 0:
            raise ParameterError(f"each group must list one or more components, got {group!r}")
        if members.min() < 0 or members.max() >= n_components:
            raise ParameterError(f"group {group!r} is out of range for {n_components} components")
        checked.append(members)
    counts = np.bincount(np.concatenate(checked or [np.zeros(0, np.int64)]), minlength=n_components)
    if np.any(counts != 1):
        raise ParameterError(
            f"groups must hold each of the {n_components} components exactly once;"
            f" component {int(np.flatnonzero(counts != 1)[0])} is in {int(counts[counts != 1][0])}"
        )
    return checked


def istft(X: np.ndarray, *, config: STFTConfig, length: int) -> np.ndarray:
    """Inverse of :func:`nmfaudio.frontend.stft`, trimmed or padded to ``length`` samples.

    The same result as ``librosa.istft(X, ..., center=True, length=length)``
    (windowed overlap-add divided by the summed squared windows), computed a
    chunk of frames at a time.

    Parameters
    ----------
    X : np.ndarray [shape=(..., n_freq, n_frames), complex]

    Returns
    -------
    np.ndarray [shape=(..., length), real]
        The signal of each channel, cut or padded to ``length`` samples.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> from nmfaudio import STFTConfig
    >>> from nmfaudio.backend import istft
    >>> from nmfaudio.frontend import stft
    >>> config = STFTConfig()
    >>> back = istft(stft(y[None], config), config=config, length=len(y))
    >>> back.shape, bool(np.abs(back[0] - y).max() < 1e-5)
    ((1, 22050), True)
    """
    X = np.asarray(X)
    flat = X.reshape(-1, *X.shape[-2:])
    synthesis = _Synthesis(config, X.shape[-1], X.real.dtype)
    y = np.empty((flat.shape[0], length), dtype=X.real.dtype)
    full = synthesis.scratch()
    for S, out in zip(flat, y, strict=True):
        synthesis.run(lambda t0, t1, S=S: S[:, t0:t1].T, out, full)
    return y.reshape(*X.shape[:-2], length)


class _Synthesis:
    """Windowed inverse FFT and overlap-add of ``n_frames`` frames, fed chunk by chunk."""

    def __init__(self, config: STFTConfig, n_frames: int, dtype: np.dtype):
        self.config = config
        self.n_frames = n_frames
        n_fft, hop = config.n_fft, config.hop_length
        self.window = config.window_values(dtype)
        norm = librosa.filters.window_sumsquare(
            window=config.window, n_frames=n_frames, hop_length=hop, win_length=n_fft,
            n_fft=n_fft, dtype=dtype,
        )  # fmt: skip
        # Where the windows vanish (only at the padded edges) librosa leaves samples undivided.
        nonzero = norm > np.finfo(dtype).tiny
        self.inverse_norm = np.divide(1, norm, out=np.ones_like(norm), where=nonzero)

    def scratch(self) -> np.ndarray:
        """An overlap-add buffer for :meth:`run`, one per thread, reusable."""
        return np.empty_like(self.inverse_norm)

    def run(self, spectra, out: np.ndarray, full: np.ndarray, *, workers: int = -1) -> np.ndarray:
        """Fill ``out`` (1-D) with the signal; ``spectra(t0, t1)`` gives frames t0..t1 as rows.

        ``full`` is scratch space from :meth:`scratch`; ``workers`` threads compute each FFT.
        """
        n_fft, hop = self.config.n_fft, self.config.hop_length
        full.fill(0)
        for t0, t1 in frame_blocks(self.n_frames, FRAMES_PER_CHUNK):
            frames = scipy.fft.irfft(spectra(t0, t1), n=n_fft, axis=-1, workers=workers)
            _overlap_add(frames.astype(full.dtype, copy=False), self.window, hop, t0, full)
        start = n_fft // 2  # centred frames: sample 0 is the middle of frame 0
        n = min(out.size, full.size - start)
        np.multiply(full[start : start + n], self.inverse_norm[start : start + n], out=out[:n])
        out[n:] = 0
        return out


@numba.njit(nogil=True, cache=True)
def _overlap_add(frames, window, hop, first_frame, out):
    """Add each windowed frame (row of ``frames``) into ``out`` at its hop position."""
    for j in range(frames.shape[0]):
        start = (first_frame + j) * hop
        for i in range(frames.shape[1]):
            out[start + i] += frames[j, i] * window[i]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _masked_frames(Xt, W, H, members, power, denominator_t, uniform, t0, out, part):
    """Frames ``t0..`` of one channel under the soft mask of a group of components.

    ``Xt`` and ``denominator_t`` are frames-as-rows, ``(n_frames, n_freq)``;
    ``out[t, f] = Xt[t0 + t, f] * soft_mask(...)[f, t0 + t]`` for the group of
    ``members``, with no mask array; ``uniform`` is the mask where the
    denominator is 0, ``part`` scratch of length ``n_freq``.
    """
    for t in range(out.shape[0]):
        _group_model(W, H, members, t0 + t, power, part)
        for f in range(out.shape[1]):
            d = denominator_t[t0 + t, f]
            out[t, f] = Xt[t0 + t, f] * (part[f] / d if d > 0 else uniform)


def iter_components(
    X: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
    *,
    config: STFTConfig,
    length: int,
    power: float,
    groups: Sequence[Sequence[int]] | None = None,
) -> Iterator[np.ndarray]:
    """Yield each component's signal in turn, or each group of components'.

    A group's signal is the input under the group's soft mask (see
    :func:`soft_mask`), whose model is the sum of its components' models; with
    ``power=1`` it is the sum of their signals. Memory beyond ``X``: the mask
    denominator, chunk-sized buffers and one signal, whatever the number of
    components.

    Parameters
    ----------
    X : np.ndarray [shape=(n_channels, n_freq, n_frames), complex]
        STFT of the input, every channel.
    W, H : np.ndarray
        The factorization of the channel mix's magnitude.
    config : STFTConfig
        The settings ``X`` was computed with.
    length : int
        Samples per channel of the input.
    power : float > 0
        Mask exponent, see :func:`soft_mask`.
    groups : sequence of sequences of int, or None
        Component indices of each signal to yield; ``None`` yields every
        component alone, ``[[0], [1], ...]``.

    Yields
    ------
    np.ndarray [shape=(n_channels, length)]
    """
    real = X.real.dtype
    members = check_groups(groups, W.shape[1])
    uniform = real.type(1 / len(members))
    W, H = np.ascontiguousarray(W, dtype=real), np.ascontiguousarray(H, dtype=real)
    W = scaled_for_masks(W, H, power)
    denominator = mask_denominator(W, H, power=power, groups=members).astype(real, copy=False)
    synthesis = _Synthesis(config, X.shape[-1], real)
    denominator_t = np.ascontiguousarray(denominator.T)  # no copy: already frame-major
    channels_t = [np.ascontiguousarray(channel.T) for channel in X]  # no copies for stft()
    n_threads = min(len(X), usable_cores())
    fft_workers = -1 if n_threads == 1 else 1  # threads over channels, or over each FFT
    scratch = threading.local()  # buffers per thread: memory grows with cores, not channels

    def channel_signal(c: int, g: int, out: np.ndarray) -> None:
        if not hasattr(scratch, "full"):
            scratch.full = synthesis.scratch()
            scratch.masked = np.empty((FRAMES_PER_CHUNK, X.shape[1]), X.dtype)
            scratch.part = np.empty(X.shape[1], real)

        def spectra(t0, t1):
            masked = scratch.masked[: t1 - t0]
            _masked_frames(
                channels_t[c], W, H, members[g], real.type(power), denominator_t, uniform, t0,
                masked, scratch.part,
            )  # fmt: skip
            return masked

        synthesis.run(spectra, out, scratch.full, workers=fft_workers)

    with ThreadPoolExecutor(n_threads) as pool:
        for g in range(len(members)):
            # Interleaved in memory, as WAV files are, so writing needs no transposed copy.
            signal = np.empty((length, X.shape[0]), dtype=real).T
            jobs = [pool.submit(channel_signal, c, g, signal[c]) for c in range(len(X))]
            for job in jobs:
                job.result()
            yield signal


def signals(separation, groups: Sequence[Sequence[int]] | None) -> Iterator[np.ndarray]:
    """Each component's (or group's) signal of a :class:`~nmfaudio.Separation` made in memory,
    in turn (see :func:`iter_components`)."""
    if separation.X is None:
        raise ParameterError(
            f"this separation of {separation.source} holds no STFT: its parts are made from"
            " the file, block by block, by nmfaudio.save"
        )
    return iter_components(
        separation.X, separation.W, separation.H, config=separation.config,
        length=separation.length, power=separation.mask_power, groups=groups,
    )  # fmt: skip


def stream_components(
    read: Callable[[int, int], np.ndarray],
    n_samples: int,
    W: np.ndarray,
    H: np.ndarray,
    *,
    config: STFTConfig,
    power: float,
    partitions: Sequence[Sequence[Sequence[int]] | None] = (None,),
    frames_per_block: int | None = None,
) -> Iterator[list[np.ndarray]]:
    """Every component's (or group's) signal, a block of samples at a time, from the input
    read again in blocks: what :func:`iter_components` gives, without the whole STFT.

    For each block of frames, the input's samples under those frames are read,
    transformed, masked for every group (the masks from ``W`` and that block of
    ``H``) and overlap-added; the samples no later frame reaches are then final.
    Memory: the block's STFT and one block of samples per group, plus each
    group's overlap carried to the next block; independent of the duration.

    Parameters
    ----------
    read : callable
        ``read(start, stop)`` gives samples ``start..stop-1`` of every channel,
        shape ``(n_channels, stop - start)``, zeros outside ``[0, n_samples)``.
    n_samples : int
        Samples per channel of the input.
    W, H : np.ndarray
        The factorization of the input's magnitude spectrogram, H over all frames.
    config, power
        As in :func:`iter_components`.
    partitions : sequence of ``groups`` (see :func:`iter_components`)
        The sets of signals to make, each a partition of the components: the
        sources and the components, say, in one pass over the input.
    frames_per_block : int or None
        ``None``: as many as keep the blocks of all groups near 64 MB.

    Yields
    ------
    list of np.ndarray [shape=(block samples, n_channels)]
        One block of each group's signal, partition after partition, in order;
        the blocks tile ``[0, n_samples)``.
    """
    n_fft, hop = config.n_fft, config.hop_length
    partitions = [check_groups(groups, W.shape[1]) for groups in partitions]
    tasks = [(p, g) for p, members in enumerate(partitions) for g in range(len(members))]
    real = np.dtype(np.float32)
    W, H = np.ascontiguousarray(W, dtype=real), np.ascontiguousarray(H, dtype=real)
    W = scaled_for_masks(W, H, power)  # from the whole H, as iter_components: the same masks
    n_frames = config.n_frames(n_samples)
    if frames_per_block is None:
        frames_per_block = int(np.clip(2**24 // (len(tasks) * hop * 2), 16, FRAMES_PER_CHUNK))
    window = config.window_values(real)
    squared = config.window_values(np.float64) ** 2  # as librosa's window_sumsquare
    carry_length = n_fft - hop
    carries: list[np.ndarray | None] = [None] * len(tasks)
    half = n_fft // 2

    def signal(task: int, block: _Block) -> np.ndarray:
        p, g = tasks[task]
        members = partitions[p]
        acc = np.zeros((block.spectra.shape[0], block.stop - block.start), real)
        if carries[task] is not None:
            acc[:, :carry_length] = carries[task]
        masked = np.empty_like(block.spectra[0])
        part = np.empty(W.shape[0], real)
        uniform = real.type(1 / len(members))
        for c, channel in enumerate(block.spectra):
            _masked_frames(channel, W, H[:, block.t0 : block.t1], members[g], real.type(power),
                           block.denominators_t[p], uniform, 0, masked, part)  # fmt: skip
            frames = scipy.fft.irfft(masked, n=n_fft, axis=-1).astype(real, copy=False)
            _overlap_add(frames, window, hop, 0, acc[c])
        carries[task] = acc[:, block.final : block.final + carry_length].copy()
        out = acc[:, block.first - block.start : block.last - block.start] * block.norm
        return np.ascontiguousarray(out.T)  # interleaved, as a WAV file is

    with ThreadPoolExecutor(usable_cores()) as pool:
        for t0, t1 in frame_blocks(n_frames, frames_per_block):
            start, stop = frame_span(t0, t1, config)
            # Padded positions t0 * hop .. t1 * hop are final after this block (the last
            # block: all that is left); in signal samples, half a frame earlier.
            final = (t1 - t0) * hop if t1 < n_frames else stop - start
            first, last = max(start, 0), min(start + final, n_samples)
            norm = _inverse_norm(start + half, start + half + final, n_frames, squared, hop)
            block = _Block(
                t0, t1, start, stop, final, first, last,
                spectra=stft_frames(read(start, stop).astype(real, copy=False), config),
                denominators_t=[
                    np.ascontiguousarray(
                        mask_denominator(W, H[:, t0:t1], power=power, groups=members).T,
                        dtype=real,
                    )
                    for members in partitions
                ],
                norm=norm[first - start : last - start],
            )  # fmt: skip
            yield list(pool.map(functools.partial(signal, block=block), range(len(tasks))))


def mean_of_streams(streams: Sequence[Iterator[list[np.ndarray]]], n_mean: int):
    """One stream of blocks from several of one recording's (each as
    :func:`stream_components` yields them, tiling the same samples, their blocks
    not lined up): the first ``n_mean`` parts the mean of every stream's, the rest
    the first stream's. Memory: a block of each stream's parts."""
    streams = [iter(stream) for stream in streams]
    held: list[list[np.ndarray] | None] = [None] * len(streams)  # samples not yet yielded
    while True:
        for i, stream in enumerate(streams):
            if held[i] is None or not len(held[i][0]):
                held[i] = next(stream, None)
                if held[i] is None:
                    return
        n = min(len(parts[0]) for parts in held)
        means = [sum(parts[p][:n] for parts in held) / len(held) for p in range(n_mean)]
        yield means + [part[:n] for part in held[0][n_mean:]]
        held = [[part[n:] for part in parts] for parts in held]


class _Block(NamedTuple):
    """One block of frames of :func:`stream_components`: its spans, STFT, mask normalizers."""

    t0: int
    t1: int
    start: int
    stop: int
    final: int
    first: int
    last: int
    spectra: np.ndarray
    denominators_t: list[np.ndarray]
    norm: np.ndarray


def _inverse_norm(a: int, b: int, n_frames: int, squared: np.ndarray, hop: int) -> np.ndarray:
    """``1 / sum of squared windows`` at padded positions ``a..b-1``, as :class:`_Synthesis`
    has it (librosa's ``window_sumsquare``, summed frame after frame in float32)."""
    n_fft = len(squared)
    norm = np.zeros(b - a, np.float32)
    first = max(0, -(-(a - n_fft + 1) // hop))
    for t in range(first, min(n_frames, -(-b // hop))):
        lo, hi = max(a, t * hop), min(b, t * hop + n_fft)
        norm[lo - a : hi - a] += squared[lo - t * hop : hi - t * hop]
    nonzero = norm > np.finfo(np.float32).tiny
    return np.divide(1, norm, out=np.ones_like(norm), where=nonzero)
