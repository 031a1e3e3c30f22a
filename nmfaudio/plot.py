"""Pictures of a decomposition: spectrograms, templates, activations and components.

Every function returns a :class:`matplotlib.figure.Figure` (or draws into the
``ax`` it is given), built without pyplot, so nothing ever opens a window and
notebooks and scripts can compose or save them. Axes and scales come from
``librosa.display``: log frequency in Hz, time in seconds, dB colour scales.
"""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError
from .frontend import FRAMES_PER_CHUNK, frame_blocks, magnitude, stft
from .score import pitch_hz
from .settings import STFTConfig

#: Longest time axis drawn; longer spectrograms are averaged over groups of frames.
MAX_COLUMNS = 2000
#: The same for the small panels of :func:`components`: about their width in pixels.
#: Every column drawn is a row of mesh cells to render and hold (at 2000 columns,
#: 24 panels of a 3-minute file took two minutes and 2.6 GB).
THUMBNAIL_COLUMNS = 400
#: Frames whose mean draws a column of a long recording's pictures (see :func:`sampled_frames`).
FRAMES_PER_COLUMN = 16
#: Most rows of a spectrogram drawn: log-spaced bands from :data:`LOWEST_HZ` (about the
#: pixels of the panel); the thumbnails of :func:`components` take half as many.
MAX_BANDS = 256
LOWEST_HZ = 30.0
#: Most parts whose spectra the decomposition draws as curves; more are an image.
MAX_CURVES = 8
#: Dynamic range of the dB colour scales.
TOP_DB = 80.0


def spectrogram(
    y_or_spec: np.ndarray,
    sr: int,
    *,
    ax=None,
    config: STFTConfig | None = None,
    max_freq: float | None = None,
    title: str | None = None,
):
    """dB magnitude spectrogram on a log-frequency axis, with a colour bar in dB.

    Parameters
    ----------
    y_or_spec : np.ndarray
        Audio, shape ``(n_samples,)`` or ``(n_channels, n_samples)``; or a complex
        STFT ``(..., n_freq, n_frames)``; or a magnitude spectrogram ``(n_freq,
        n_frames)`` with ``n_freq == config.n_freq``. Channels are combined as in
        :func:`nmfaudio.frontend.magnitude`.
    sr : int
        Sample rate.
    ax : matplotlib.axes.Axes or None
        Draw here; ``None`` makes a new figure.
    config : STFTConfig or None
        STFT settings (of the audio, or those the spectrogram was made with);
        ``None``: the defaults.
    max_freq : float or None
        Top of the frequency axis in Hz (default: Nyquist).
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
        Made without pyplot (no window opens); save it with ``savefig``.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> from nmfaudio import plot
    >>> figure = plot.spectrogram(y, sr, max_freq=4000)  # a Figure, no window opened
    >>> type(figure).__name__, len(figure.axes) >= 1
    ('Figure', True)
    """
    config = config or STFTConfig()
    V = _magnitude_of(np.asarray(y_or_spec), config)
    fig, ax = _figure_and_axes(ax, figsize=(10, 4))
    image = _show_db(V, sr, config.hop_length, ax, ref=float(V.max(initial=0)))
    _db_colorbar(fig, image, ax=ax)
    _limit_frequency(ax, max_freq, sr)
    if title:
        ax.set_title(title)
    return fig


def decomposition(result, *, max_freq: float | None = None, title: str | None = None):
    """The recording's spectrogram, the spectrum of each part written and when each plays.

    The parts are the sources when the components were grouped (blindly, by
    learnt templates or by a score), else the components. A part's spectrum is
    its templates ``W`` weighted by their activations' totals (for a component,
    its template), drawn as a curve for up to :data:`MAX_CURVES` parts (in the
    colour of its activation) and as one column of an image for more. Its
    activation is the summed activation of its components (``H``, scaled by
    each template's level), a curve on the spectrogram's time axis, one row
    each, named like the files on the left.

    Parameters
    ----------
    result : nmfaudio.Separation
    max_freq : float or None
        Top of the frequency axes in Hz.
    title : str or None
        Over the spectrogram (default: "the recording").

    Returns
    -------
    matplotlib.figure.Figure
        Made without pyplot (no window opens); save it with ``savefig``.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> import nmfaudio
    >>> from nmfaudio import plot
    >>> figure = plot.decomposition(nmfaudio.separate(y, sr, 2))
    >>> import io
    >>> figure.savefig(io.BytesIO(), format="png")  # or a file name
    """
    from matplotlib.figure import Figure

    config, sr = result.config, result.sr
    names, spectra, activations = part_profiles(result)
    K = len(names)
    curves = K <= MAX_CURVES
    width_spectra = 2.4 if curves else 1.5 + 0.12 * K
    fig = Figure(figsize=(11 + width_spectra, 5 + 0.28 * K), layout="constrained")
    grid = fig.add_gridspec(
        2, 3, width_ratios=[width_spectra, 10, 0.25], height_ratios=[4, 1 + 0.28 * K]
    )
    ax_spec = fig.add_subplot(grid[0, 1])
    ax_w = fig.add_subplot(grid[0, 0], sharey=ax_spec)
    ax_h = fig.add_subplot(grid[1, 1], sharex=ax_spec)
    ax_names = fig.add_subplot(grid[1, 0], sharey=ax_h)
    ax_bar = fig.add_subplot(grid[0, 2])

    V, _, hop_length = _pooled(result, None, MAX_COLUMNS, parts=False)
    image = _show_db(V, sr, hop_length, ax_spec, ref=float(V.max(initial=0)))
    _db_colorbar(fig, image, cax=ax_bar)
    ax_spec.set_title(title or "the recording")
    ax_spec.set_xlabel("")
    ax_spec.tick_params(labelbottom=False, labelleft=False)
    ax_spec.set_ylabel("")

    if curves:
        _draw_spectrum_curves(ax_w, spectra, sr, config.n_fft)
    else:
        _draw_templates(ax_w, spectra, names, sr)
    _limit_frequency(ax_spec, max_freq, sr)
    _draw_activations(ax_h, ax_names, activations, names, sr, config.hop_length)
    if result.sources is not None:
        restarts = getattr(result.mode, "n_restarts", 1)  # only blind sources average fits
        fig.supxlabel(_membership(result.sources, restarts), fontsize=8)
    fig.suptitle(f"{result.describe()}; fitted by {_cost(result)}", fontsize=10)
    return fig


def _cost(result) -> str:
    return f"{result.cost.describe()}, {len(result.losses)} iterations"


def part_profiles(result) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each part's name, spectrum and activation, as the figures and the report show them.

    Parameters
    ----------
    result : nmfaudio.Separation

    Returns
    -------
    names : list of str
        As :meth:`nmfaudio.Separation.part_names`.
    spectra : np.ndarray [shape=(n_freq, n_parts)]
        A source's templates weighted by their activations' totals, each
        column scaled to sum to 1.
    activations : np.ndarray [shape=(n_parts, n_frames)]
        A source's activations summed, each weighted by its template's level.
    """
    W, H = np.asarray(result.W, np.float64), np.asarray(result.H, np.float64)
    groups = [[k] for k in range(W.shape[1])] if result.sources is None else result.sources.values()
    spectra = np.stack([W[:, g] @ H[g].sum(axis=1) for g in groups], axis=1)
    totals = spectra.sum(axis=0)
    spectra /= np.where(totals > 0, totals, 1)
    level = W.sum(axis=0)  # 1 for learnt templates; each frame's share for multi-frame ones
    activations = np.stack([level[g] @ H[g] for g in groups])
    return result.part_names(), spectra, activations


def _membership(sources: dict[str, list[int]], restarts: int) -> str:
    """Which components make each source: listed when few, else counted (a fit's share of
    them, for the consensus of several fits)."""
    total = sum(len(members) for members in sources.values())
    if total <= 64:
        counts = {name: " ".join(map(str, members)) for name, members in sources.items()}
    elif restarts > 1:
        counts = {
            name: f"{len(members) / restarts:.1f} of {total // restarts} components a fit"
            for name, members in sources.items()
        }
    else:
        counts = {name: f"{len(members)} components" for name, members in sources.items()}
    return "   ".join(f"{name}: {count}" for name, count in counts.items())


def components(result, *, max_freq: float | None = None, title: str | None = None):
    """A grid of the spectrograms of the parts written, on one shared dB scale.

    The parts are the sources when the components were grouped, else the
    components (see :func:`decomposition`). A part's spectrogram is the
    channel mix's magnitude under its soft mask: the magnitude of what its
    file holds.

    Parameters
    ----------
    result : nmfaudio.Separation
    max_freq : float or None
        Top of the frequency axes in Hz.
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
        Made without pyplot (no window opens); save it with ``savefig``.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> import nmfaudio
    >>> from nmfaudio import plot
    >>> figure = plot.components(nmfaudio.separate(y, sr, 2))
    >>> len(figure.axes) >= 2
    True
    """
    from matplotlib.figure import Figure

    names = result.part_names()
    groups = None if result.sources is None else list(result.sources.values())
    K = len(names)
    n_cols = int(np.ceil(np.sqrt(K * 1.5)))
    n_rows = int(np.ceil(K / n_cols))
    fig = Figure(figsize=(3.2 * n_cols + 1, 2.4 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, sharex=True, sharey=True, squeeze=False).ravel()
    V, parts, hop_length = _pooled(result, groups, THUMBNAIL_COLUMNS, parts=True)
    ref = float(V.max(initial=0))  # one scale for all: the loudest point of the mixture
    for k, ax in enumerate(axes):
        if k >= K:
            ax.set_axis_off()
            continue
        image = _show_db(parts[k], result.sr, hop_length, ax, ref=ref, n_bands=MAX_BANDS // 2)
        if result.score is not None and names[k] in result.score.instruments:
            _draw_notes(ax, result.score.of(names[k]), result.sr)
        ax.set_title(names[k], fontsize=9)
        ax.label_outer()
    _limit_frequency(axes[0], max_freq, result.sr)
    _db_colorbar(fig, image, ax=axes.tolist(), shrink=0.8)
    fig.suptitle(title or f"{K} {'sources' if groups else 'components'} ({_cost(result)})")
    return fig


def _draw_notes(ax, notes, sr: int) -> None:
    """A score's notes over a part's spectrogram: a line at each note's fundamental for its
    duration, a tick at each drum hit."""
    pitched = [n for n in notes if n.is_pitched]
    if pitched:
        f0 = [pitch_hz(n.pitch) for n in pitched]
        ax.hlines(f0, [n.start for n in pitched], [n.end for n in pitched], colors="#7fdbff",
                  linewidth=1.2, alpha=0.9)  # fmt: skip
    hits = [n.start for n in notes if n.is_drum]
    if hits:
        ax.vlines(hits, 40.0, sr / 2, colors="#7fdbff", linewidth=0.6, alpha=0.6)


def _pooled(result, groups, max_columns: int, *, parts: bool):
    """The mixture's magnitude and, with ``parts``, each part's (under its soft mask),
    averaged over groups of frames as :func:`_pool_frames` does; return them and the hop.

    A group of more than :data:`FRAMES_PER_COLUMN` frames (a long recording's) is
    the mean of that many of its frames, evenly spaced: the same picture, at a
    fraction of the masks' cost (on 10 minutes, 16 frames of each 130 for the
    parts' thumbnails, 16 of each 26 for the mixture of the decomposition). Made a
    block of frames at a time, so no whole spectrogram or mask is ever held: the
    figures cost little memory beside the separation.
    """
    # Here, not at import: the back end brings numba, which `nmfaudio plot` does not need.
    from .backend import check_groups, mask_denominator, scaled_for_masks, soft_mask

    n_frames = result.H.shape[1]
    factor = max(1, -(-n_frames // max_columns))
    n_columns = n_frames // factor
    frames = sampled_frames(n_columns, factor)
    per_column = len(frames) // n_columns
    power = result.mask_power
    W = scaled_for_masks(result.W, result.H, power)
    n_parts = len(check_groups(groups, W.shape[1])) if parts else 0
    mixture, masked = [], [[] for _ in range(n_parts)]
    block = per_column * max(1, FRAMES_PER_CHUNK // per_column)  # whole columns a block
    for b0, b1 in frame_blocks(len(frames), block):
        chosen = frames[b0:b1]
        V = _magnitude_frames(result, chosen)
        mixture.append(_mean_over(V, per_column))
        if parts:
            H = result.H[:, chosen]
            denominator = mask_denominator(W, H, power=power, groups=groups)
            for k in range(n_parts):
                mask = soft_mask(W, H, k, power=power, denominator=denominator, groups=groups)
                masked[k].append(_mean_over(V * mask, per_column))
    pooled = [np.concatenate(blocks, axis=1) for blocks in masked]
    return np.concatenate(mixture, axis=1), pooled, result.config.hop_length * factor


def column_frames(t0: int, t1: int) -> np.ndarray:
    """The frames whose mean draws the column of frames ``t0..t1-1``: all of them, or
    :data:`FRAMES_PER_COLUMN` evenly spaced when there are more."""
    count = min(t1 - t0, FRAMES_PER_COLUMN)
    return t0 + np.linspace(0, t1 - t0 - 1, count).round().astype(int)


def sampled_frames(n_columns: int, factor: int) -> np.ndarray:
    """:func:`column_frames` of each column of ``factor`` frames, column after column."""
    return (np.arange(n_columns)[:, None] * factor + column_frames(0, factor)).ravel()


def _magnitude_frames(result, frames: np.ndarray) -> np.ndarray:
    """These frames of the magnitude spectrogram a separation factorized."""
    X = result.spectrogram.X
    return result.spectrogram.V[:, frames] if X is None else magnitude(X[..., frames])


def _mean_over(S: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` consecutive columns."""
    return S.reshape(S.shape[0], -1, factor).mean(axis=-1)


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


def _pool_frames(
    S: np.ndarray, hop_length: int, max_columns: int = MAX_COLUMNS
) -> tuple[np.ndarray, int]:
    """Average groups of frames so at most ``max_columns`` remain; return them and the new hop."""
    factor = int(np.ceil(S.shape[-1] / max_columns))
    if factor <= 1:
        return S, hop_length
    n = S.shape[-1] // factor * factor
    pooled = S[..., :n].reshape(*S.shape[:-1], -1, factor).mean(axis=-1)
    return pooled, hop_length * factor


def _show_db(V, sr, hop_length, ax, *, ref, max_columns=MAX_COLUMNS, n_bands=MAX_BANDS):
    import librosa
    import librosa.display

    V, hop_length = _pool_frames(np.asarray(V), hop_length, max_columns)
    # As many log-spaced rows as the panel has pixels, not a row per bin: the upper
    # octaves' hundreds of bins fill a few pixels, and every row is a row of mesh cells
    # to draw (on 10 minutes, 1025 rows made the figures half the time of the run).
    V, centres = _in_bands(V, sr, 2 * (V.shape[0] - 1), n_bands)  # centres None: librosa's
    db = librosa.amplitude_to_db(V, ref=ref if ref > 0 else 1.0, top_db=None)
    image = librosa.display.specshow(
        db, sr=sr, hop_length=hop_length, x_axis="s", y_axis="log", ax=ax,
        y_coords=centres, cmap="magma", vmin=-TOP_DB, vmax=0,
    )  # fmt: skip
    ax.set_xlabel("Time (s)")  # ticks in seconds ("s"), whatever the length
    _octave_ticks(ax, sr)
    return image


def _in_bands(spectra: np.ndarray, sr: int, n_fft: int, n_bands: int):
    """``spectra`` in ``n_bands`` log-spaced bands from :data:`LOWEST_HZ` to the Nyquist
    frequency, with the bands' centres in Hz; as they are, with ``None``, when they have
    no more bins than that or the rate leaves no room for the bands."""
    if sr / 2 <= 2 * LOWEST_HZ or spectra.shape[0] <= n_bands:
        return spectra, None
    edges = np.geomspace(LOWEST_HZ, sr / 2, n_bands + 1)
    return log_bands(spectra, edges, sr, n_fft), np.sqrt(edges[:-1] * edges[1:])


def log_bands(spectra: np.ndarray, edges: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """Mean of the bins of each band between consecutive ``edges`` (Hz), shape
    ``(len(edges) - 1, n_columns)``; bins below the first edge join the first band, and
    bands narrower than a bin take the bin they fall in."""
    n_bands = len(edges) - 1
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    band_of_bin = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, n_bands - 1)
    sums = np.zeros((n_bands, spectra.shape[1]))
    np.add.at(sums, band_of_bin, spectra)
    counts = np.bincount(band_of_bin, minlength=n_bands)
    centres = np.sqrt(edges[:-1] * edges[1:])
    nearest = np.clip(np.round(centres / (sr / n_fft)).astype(int), 0, len(freqs) - 1)
    return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None],
                    spectra[nearest])  # fmt: skip


def _db_colorbar(fig, image, **placement):
    return fig.colorbar(image, format="%+2.0f dB", label="level (dB)", **placement)


def _limit_frequency(ax, max_freq, sr):
    if max_freq is not None:
        if not 0 < max_freq:
            raise ParameterError(f"max_freq must be positive, got {max_freq}")
        ax.set_ylim(top=min(max_freq, sr / 2))


def _label_step(K: int) -> int:
    """Label every part up to 16, then every second, ... so labels never collide."""
    return max(1, int(np.ceil(K / 16)))


def _short(name: str) -> str:
    """``component_07`` -> ``07``: the number is what tells components apart."""
    return name.removeprefix("component_")


def _draw_templates(ax, spectra, names, sr):
    import librosa
    import librosa.display

    K = spectra.shape[1]
    db = librosa.amplitude_to_db(spectra, ref=float(spectra.max(initial=0)) or 1.0, top_db=None)
    librosa.display.specshow(
        db, sr=sr, y_axis="log", x_coords=np.arange(K), ax=ax, cmap="magma",
        vmin=-TOP_DB, vmax=0,
    )  # fmt: skip
    step = _label_step(K)
    ax.set_xticks(
        np.arange(0, K, step), [_short(names[k]) for k in range(0, K, step)], fontsize=8,
        rotation=90 if any(len(_short(name)) > 3 for name in names) else 0,
    )  # fmt: skip
    _labels_on_top(ax, "part")
    ax.set_ylabel("Hz")
    ax.set_title("spectrum of each part")


def _draw_spectrum_curves(ax, spectra, sr, n_fft):
    """Each part's spectrum as a curve, level across, frequency up (the spectrogram's axis)."""
    import librosa

    spectra, freqs = _in_bands(spectra, sr, n_fft, MAX_BANDS)  # in the spectrogram's rows
    if freqs is None:
        freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    db = librosa.amplitude_to_db(spectra, ref=float(spectra.max(initial=0)) or 1.0, top_db=None)
    for k in range(spectra.shape[1]):
        ax.plot(np.maximum(db[:, k], -TOP_DB), freqs, color=f"C{k % 10}", linewidth=0.8)
    ax.set_xlim(-TOP_DB, 3)
    _labels_on_top(ax, "level (dB)")
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylabel("Hz")
    ax.set_title("spectrum of each part")


def _labels_on_top(ax, label: str) -> None:
    """The spectra's x axis above, beside the titles: below, it would part the rows."""
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(label, fontsize=8)


def _octave_ticks(ax, sr):
    """Octaves from 32 Hz on a log-frequency axis (librosa's symlog axis ticks a 0 too)."""
    from matplotlib.ticker import FixedLocator, ScalarFormatter

    ax.yaxis.set_major_locator(FixedLocator([f for f in 2.0 ** np.arange(5, 16) if f < sr / 2]))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_ylim(bottom=32 if sr / 2 > 64 else 0)


def _draw_activations(ax, ax_names, activations, names, sr, hop_length):
    """Each part's activation on the time axis, one row each, named on the left (in a
    panel of their own, so the names do not push the time axis off the spectrogram's)."""
    import librosa

    K = activations.shape[0]
    activations, hop_length = _pool_frames(activations, hop_length)
    times = librosa.frames_to_time(np.arange(activations.shape[1]), sr=sr, hop_length=hop_length)
    peak = activations.max(axis=1, keepdims=True)
    scaled = activations / np.where(peak > 0, peak, 1)  # each row on its own scale, 0..1
    step = _label_step(K)
    for k in range(K):
        ax.plot(times, K - 1 - k + 0.9 * scaled[k], linewidth=0.8, color=f"C{k % 10}")
        if k % step == 0:
            ax_names.text(
                0.98, K - 1 - k + 0.3, names[k], ha="right", va="center", fontsize=8,
                color=f"C{k % 10}", transform=ax_names.get_yaxis_transform(),
            )  # fmt: skip
    ax.set_ylim(-0.2, K)
    ax.set_yticks([])
    ax.set_xlabel("Time (s)")
    ax.set_title("when each part plays", loc="left")
    ax_names.set_axis_off()
