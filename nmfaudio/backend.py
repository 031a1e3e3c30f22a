"""Stage 3, the back end: soft (alpha-Wiener) masks -> masked STFT per channel -> signal.

The masks of all components sum to one at every time-frequency point, and
the inverse STFT is linear, so the components add back up to the input.
Components are produced one at a time: never K complex spectrograms at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import librosa
import numba
import numpy as np

from ._checks import positive_float
from .frontend import STFTConfig


def mask_denominator(W: np.ndarray, H: np.ndarray, *, power: float = 1.0) -> np.ndarray:
    """``sum_k (W[:, k] H[k])^power``, the normalizer of the soft masks.

    Parameters
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]
    power : float > 0

    Returns
    -------
    np.ndarray [shape=(n_freq, n_frames)]
    """
    power = positive_float("power", power)
    if power == 1:
        return W @ H
    total = np.zeros((W.shape[0], H.shape[1]), dtype=np.result_type(W, H))
    for k in range(W.shape[1]):
        total += np.outer(W[:, k], H[k]) ** power
    return total


def soft_mask(
    W: np.ndarray,
    H: np.ndarray,
    k: int,
    *,
    power: float = 1.0,
    denominator: np.ndarray | None = None,
) -> np.ndarray:
    """Soft mask of component ``k``: ``(W_k H_k)^power / sum_j (W_j H_j)^power``.

    Where every component is zero the mask is ``1 / K``, so the masks still
    sum to one there.

    Parameters
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
    H : np.ndarray [shape=(n_components, n_frames)]
    k : int
        Component index, ``0 <= k < n_components``.
    power : float > 0
        Mask exponent: 1 gives magnitude-ratio masks, 2 Wiener-like masks;
        larger values approach binary masks.
    denominator : np.ndarray [shape=(n_freq, n_frames)] or None
        ``mask_denominator(W, H, power=power)``, to reuse across components.

    Returns
    -------
    np.ndarray [shape=(n_freq, n_frames)], values in [0, 1]
    """
    n_components = W.shape[1]
    if not 0 <= k < n_components:
        raise IndexError(f"component {k} out of range for {n_components} components")
    if denominator is None:
        denominator = mask_denominator(W, H, power=power)
    numerator = np.outer(W[:, k], H[k])
    if power != 1:
        numerator **= power
    empty = denominator <= 0
    mask = np.divide(numerator, denominator, out=numerator, where=~empty)
    mask[empty] = 1.0 / n_components
    return mask


def istft(X: np.ndarray, *, config: STFTConfig, length: int) -> np.ndarray:
    """Inverse of :func:`nmfaudio.frontend.stft`, trimmed or padded to ``length`` samples.

    Parameters
    ----------
    X : np.ndarray [shape=(..., n_freq, n_frames), complex]

    Returns
    -------
    np.ndarray [shape=(..., length), real]
    """
    return librosa.istft(
        X,
        hop_length=config.hop_length,
        n_fft=config.n_fft,
        window=config.window,
        center=True,
        length=length,
    )


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _apply_mask(X, W, H, k, power, denominator, out):
    """``out = X * soft_mask(W, H, k)`` for one channel, with no mask array in between."""
    n_freq, n_frames = X.shape
    uniform = 1.0 / W.shape[1]
    for f in range(n_freq):
        w = W[f, k]
        for t in range(n_frames):
            d = denominator[f, t]
            part = w * H[k, t]
            if power != 1:
                part = part**power
            out[f, t] = X[f, t] * (part / d if d > 0 else uniform)


def iter_components(
    X: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
    *,
    config: STFTConfig,
    length: int,
    power: float = 1.0,
) -> Iterator[np.ndarray]:
    """Yield each component's signal in turn.

    Memory beyond ``X``: the mask denominator, one masked channel spectrogram
    and one component's signal, whatever the number of components.

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

    Yields
    ------
    np.ndarray [shape=(n_channels, length)]
    """
    real = X.real.dtype
    W, H = np.ascontiguousarray(W, dtype=real), np.ascontiguousarray(H, dtype=real)
    denominator = mask_denominator(W, H, power=power).astype(real, copy=False)
    masked = np.empty_like(X[0])
    for k in range(W.shape[1]):
        component = np.empty((X.shape[0], length), dtype=real)
        for c, channel in enumerate(X):
            _apply_mask(channel, W, H, k, real.type(power), denominator, masked)
            component[c] = istft(masked, config=config, length=length)
        yield component
