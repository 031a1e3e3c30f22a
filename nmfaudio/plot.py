"""Pictures of a decomposition: spectrograms, templates, activations and components.

Every function returns a :class:`matplotlib.figure.Figure` (or draws into the
``ax`` it is given), built without pyplot, so nothing ever opens a window and
notebooks and scripts can compose or save them. Axes and scales come from
``librosa.display``: log frequency in Hz, time in seconds, dB colour scales.
"""

from __future__ import annotations

import numpy as np

from .backend import mask_denominator, soft_mask
from .exceptions import ParameterError
from .frontend import STFTConfig, magnitude, stft

#: Longest time axis drawn; longer spectrograms are averaged over groups of frames.
MAX_COLUMNS = 2000
#: Dynamic range of the dB colour scales.
TOP_DB = 80.0


def spectrogram(
    y_or_spec: np.ndarray,
    sr: int,
    *,
    ax=None,
    n_fft: int = 2048,
    hop_length: int = 512,
    max_freq: float | None = None,
    title: str | None = None,
):
    """dB magnitude spectrogram on a log-frequency axis, with a colour bar in dB.

    Parameters
    ----------
    y_or_spec : np.ndarray
        Audio, shape ``(n_samples,)`` or ``(n_channels, n_samples)``; or a complex
        STFT ``(..., n_freq, n_frames)``; or a magnitude spectrogram ``(n_freq,
        n_frames)`` with ``n_freq == 1 + n_fft // 2``. Channels are combined as in
        :func:`nmfaudio.frontend.magnitude`.
    sr : int
        Sample rate.
    ax : matplotlib.axes.Axes or None
        Draw here; ``None`` makes a new figure.
    n_fft, hop_length : int
        STFT settings (of the audio, or those the spectrogram was made with).
    max_freq : float or None
        Top of the frequency axis in Hz (default: Nyquist).
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    config = STFTConfig(n_fft=n_fft, hop_length=hop_length)
    V = _magnitude_of(np.asarray(y_or_spec), config)
    fig, ax = _figure_and_axes(ax, figsize=(10, 4))
    image = _show_db(V, sr, hop_length, ax, ref=float(V.max(initial=0)))
    _db_colorbar(fig, image, ax=ax)
    _limit_frequency(ax, max_freq, sr)
    if title:
        ax.set_title(title)
    return fig


def decomposition(result, *, max_freq: float | None = None, title: str | None = None):
    """The mixture spectrogram, the K templates W as spectra, the K activations H over time.

    Templates share the spectrogram's log-frequency axis (one column each);
    activations are curves on the spectrogram's time axis, one row each. Both
    are labelled with the number of the component's audio file.

    Parameters
    ----------
    result : nmfaudio.Separation
    max_freq : float or None
        Top of the frequency axes in Hz.
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    config, sr = result.config, result.sr
    K = result.n_components
    width_templates = 1.5 + 0.12 * K
    fig = Figure(figsize=(11 + width_templates, 5 + 0.28 * K), layout="constrained")
    grid = fig.add_gridspec(
        2, 3, width_ratios=[width_templates, 10, 0.25], height_ratios=[4, 1 + 0.28 * K]
    )
    ax_spec = fig.add_subplot(grid[0, 1])
    ax_w = fig.add_subplot(grid[0, 0], sharey=ax_spec)
    ax_h = fig.add_subplot(grid[1, 1], sharex=ax_spec)
    ax_bar = fig.add_subplot(grid[0, 2])

    V = result.magnitude
    image = _show_db(V, sr, config.hop_length, ax_spec, ref=float(V.max(initial=0)))
    _db_colorbar(fig, image, cax=ax_bar)
    ax_spec.set_title(title or "mixture")
    ax_spec.set_xlabel("")
    ax_spec.tick_params(labelbottom=False, labelleft=False)
    ax_spec.set_ylabel("")

    _draw_templates(ax_w, result.W, sr, config)
    _limit_frequency(ax_spec, max_freq, sr)
    _draw_activations(ax_h, result.H, sr, config.hop_length)
    return fig


def components(result, *, max_freq: float | None = None, title: str | None = None):
    """A grid of the K component spectrograms on one shared dB scale.

    Component k's spectrogram is the channel mix's magnitude under its soft
    mask, the magnitude of what ``component_k.wav`` holds.

    Parameters
    ----------
    result : nmfaudio.Separation
    max_freq : float or None
        Top of the frequency axes in Hz.
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    K = result.n_components
    n_cols = int(np.ceil(np.sqrt(K * 1.5)))
    n_rows = int(np.ceil(K / n_cols))
    fig = Figure(figsize=(3.2 * n_cols + 1, 2.4 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, sharex=True, sharey=True, squeeze=False).ravel()
    V = result.magnitude
    W, H = result.W, result.H
    denominator = mask_denominator(W, H, power=result.mask_power)
    ref = float(V.max(initial=0))  # one scale for all: the loudest point of the mixture
    names = result.filenames()
    for k, ax in enumerate(axes):
        if k >= K:
            ax.set_axis_off()
            continue
        part = V * soft_mask(W, H, k, power=result.mask_power, denominator=denominator)
        image = _show_db(part, result.sr, result.config.hop_length, ax, ref=ref)
        ax.set_title(names[k].removesuffix(".wav"), fontsize=9)
        ax.label_outer()
    _limit_frequency(axes[0], max_freq, result.sr)
    _db_colorbar(fig, image, ax=axes.tolist(), shrink=0.8)
    fig.suptitle(title or f"{K} components")
    return fig


def _magnitude_of(data: np.ndarray, config: STFTConfig) -> np.ndarray:
    if np.iscomplexobj(data):
        stacked = data.reshape(-1, *data.shape[-2:])
        return magnitude(stacked)
    if data.ndim == 2 and data.shape[0] == config.n_freq:
        if data.min(initial=0) < 0:
            raise ParameterError("a magnitude spectrogram must be non-negative")
        return data
    if data.ndim in (1, 2):
        return magnitude(stft(np.atleast_2d(data).astype(np.float32), config))
    raise ParameterError(f"expected audio or a spectrogram, got an array of shape {data.shape}")


def _figure_and_axes(ax, *, figsize):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _pool_frames(S: np.ndarray, hop_length: int) -> tuple[np.ndarray, int]:
    """Average groups of frames so at most MAX_COLUMNS remain; return them and the new hop."""
    factor = int(np.ceil(S.shape[-1] / MAX_COLUMNS))
    if factor <= 1:
        return S, hop_length
    n = S.shape[-1] // factor * factor
    pooled = S[..., :n].reshape(*S.shape[:-1], -1, factor).mean(axis=-1)
    return pooled, hop_length * factor


def _show_db(V, sr, hop_length, ax, *, ref):
    import librosa
    import librosa.display

    V, hop_length = _pool_frames(np.asarray(V), hop_length)
    db = librosa.amplitude_to_db(V, ref=ref if ref > 0 else 1.0, top_db=None)
    image = librosa.display.specshow(
        db, sr=sr, hop_length=hop_length, x_axis="time", y_axis="log", ax=ax,
        cmap="magma", vmin=-TOP_DB, vmax=0,
    )  # fmt: skip
    ax.set_xlabel("Time (s)")
    return image


def _db_colorbar(fig, image, **placement):
    return fig.colorbar(image, format="%+2.0f dB", label="level (dB)", **placement)


def _limit_frequency(ax, max_freq, sr):
    if max_freq is not None:
        if not 0 < max_freq:
            raise ParameterError(f"max_freq must be positive, got {max_freq}")
        ax.set_ylim(top=min(max_freq, sr / 2))


def _label_step(K: int) -> int:
    """Label every component up to 16, then every second, ... so labels never collide."""
    return max(1, int(np.ceil(K / 16)))


def _draw_templates(ax, W, sr, config):
    import librosa
    import librosa.display

    K = W.shape[1]
    db = librosa.amplitude_to_db(W, ref=float(W.max(initial=0)) or 1.0, top_db=None)
    librosa.display.specshow(
        db, sr=sr, y_axis="log", x_coords=np.arange(K), ax=ax, cmap="magma",
        vmin=-TOP_DB, vmax=0,
    )  # fmt: skip
    step = _label_step(K)
    ax.set_xticks(np.arange(0, K, step), [f"{k:02d}" for k in range(0, K, step)], fontsize=8)
    ax.set_xlabel("template (component)")
    ax.set_title("W")


def _draw_activations(ax, H, sr, hop_length):
    import librosa

    K = H.shape[0]
    H, hop_length = _pool_frames(H, hop_length)
    times = librosa.frames_to_time(np.arange(H.shape[1]), sr=sr, hop_length=hop_length)
    peak = H.max(axis=1, keepdims=True)
    scaled = H / np.where(peak > 0, peak, 1)  # each row on its own scale, 0..1
    for k in range(K):
        ax.plot(times, K - 1 - k + 0.9 * scaled[k], linewidth=0.8)
    step = _label_step(K)
    ax.set_yticks(
        [K - 1 - k for k in range(0, K, step)], [f"{k:02d}" for k in range(0, K, step)], fontsize=8
    )
    ax.set_ylim(-0.2, K)
    ax.set_ylabel("activation (component)")
    ax.set_xlabel("Time (s)")
    ax.set_title("H", loc="left")
