"""Pictures of a decomposition: spectrograms, templates, activations and components.

Every function returns a :class:`matplotlib.figure.Figure` (or draws into the
``ax`` it is given), built without pyplot, so nothing ever opens a window and
notebooks and scripts can compose or save them. Axes and scales come from
``librosa.display``: log frequency in Hz, time in seconds, dB colour scales.
"""

from __future__ import annotations

import numpy as np

from .backend import check_groups, mask_denominator, scaled_for_masks, soft_mask
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
    """The mixture spectrogram, and the spectrum and activation of each part written.

    The parts are the sources when the components were grouped (blindly or by
    learnt templates), else the components. A part's spectrum is its
    templates ``W`` weighted by their activations' totals (for a component,
    its template); its activation is the summed activation of its components
    (``H``, scaled by each template's level). Spectra share the spectrogram's
    log-frequency axis (one column each); activations are curves on the
    spectrogram's time axis, one row each. Both are labelled like the files.

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
    names, spectra, activations = part_profiles(result)
    K = len(names)
    width_templates = 1.5 + 0.12 * K
    fig = Figure(figsize=(11 + width_templates, 5 + 0.28 * K), layout="constrained")
    grid = fig.add_gridspec(
        2, 3, width_ratios=[width_templates, 10, 0.25], height_ratios=[4, 1 + 0.28 * K]
    )
    ax_spec = fig.add_subplot(grid[0, 1])
    ax_w = fig.add_subplot(grid[0, 0], sharey=ax_spec)
    ax_h = fig.add_subplot(grid[1, 1], sharex=ax_spec)
    ax_bar = fig.add_subplot(grid[0, 2])

    V, _, hop_length = _pooled(result, None, MAX_COLUMNS, parts=False)
    image = _show_db(V, sr, hop_length, ax_spec, ref=float(V.max(initial=0)))
    _db_colorbar(fig, image, cax=ax_bar)
    ax_spec.set_title(title or "mixture")
    ax_spec.set_xlabel("")
    ax_spec.tick_params(labelbottom=False, labelleft=False)
    ax_spec.set_ylabel("")

    what = "source" if result.sources is not None else "component"
    _draw_templates(ax_w, spectra, names, sr, what)
    _limit_frequency(ax_spec, max_freq, sr)
    _draw_activations(ax_h, activations, names, sr, config.hop_length, what)
    if result.sources is not None:
        restarts = getattr(result.mode, "n_restarts", 1)  # only blind sources average fits
        fig.supxlabel(_membership(result.sources, restarts), fontsize=8)
    fig.suptitle(f"NMF cost minimised: {_cost(result)}", fontsize=10)
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
        image = _show_db(parts[k], result.sr, hop_length, ax, ref=ref)
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
    pitched = [n for n in notes if not n.is_drum and n.pitch >= 0]
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

    Made a block of frames at a time from the STFT, so no whole spectrogram or
    mask is ever held: the figures cost little memory beside the separation.
    """
    n_frames = result.H.shape[1]
    factor = max(1, -(-n_frames // max_columns))
    usable = n_frames // factor * factor if factor > 1 else n_frames
    block = factor * max(1, FRAMES_PER_CHUNK // factor)
    power = result.mask_power
    W = scaled_for_masks(result.W, result.H, power)
    n_parts = len(check_groups(groups, W.shape[1])) if parts else 0
    mixture, masked = [], [[] for _ in range(n_parts)]
    for t0, t1 in frame_blocks(usable, block):
        V = _magnitude_frames(result, t0, t1)
        mixture.append(_mean_over(V, factor))
        if parts:
            H = result.H[:, t0:t1]
            denominator = mask_denominator(W, H, power=power, groups=groups)
            for k in range(n_parts):
                mask = soft_mask(W, H, k, power=power, denominator=denominator, groups=groups)
                masked[k].append(_mean_over(V * mask, factor))
    pooled = [np.concatenate(blocks, axis=1) for blocks in masked]
    return np.concatenate(mixture, axis=1), pooled, result.config.hop_length * factor


def _magnitude_frames(result, t0: int, t1: int) -> np.ndarray:
    """Frames ``t0..t1-1`` of the magnitude spectrogram a separation factorized."""
    X = result.spectrogram.X
    return result.spectrogram.V[:, t0:t1] if X is None else magnitude(X[..., t0:t1])


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


def _show_db(V, sr, hop_length, ax, *, ref, max_columns=MAX_COLUMNS):
    import librosa
    import librosa.display

    V, hop_length = _pool_frames(np.asarray(V), hop_length, max_columns)
    db = librosa.amplitude_to_db(V, ref=ref if ref > 0 else 1.0, top_db=None)
    image = librosa.display.specshow(
        db, sr=sr, hop_length=hop_length, x_axis="s", y_axis="log", ax=ax,
        cmap="magma", vmin=-TOP_DB, vmax=0,
    )  # fmt: skip
    ax.set_xlabel("Time (s)")  # ticks in seconds ("s"), whatever the length
    return image


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


def _draw_templates(ax, spectra, names, sr, what):
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
        np.arange(0, K, step), [_short(names[k]) for k in range(0, K, step)],
        fontsize=8, rotation=90 if what == "source" else 0,
    )  # fmt: skip
    ax.set_xlabel(f"spectrum ({what})")
    ax.set_title("W")


def _draw_activations(ax, activations, names, sr, hop_length, what):
    import librosa

    K = activations.shape[0]
    activations, hop_length = _pool_frames(activations, hop_length)
    times = librosa.frames_to_time(np.arange(activations.shape[1]), sr=sr, hop_length=hop_length)
    peak = activations.max(axis=1, keepdims=True)
    scaled = activations / np.where(peak > 0, peak, 1)  # each row on its own scale, 0..1
    for k in range(K):
        ax.plot(times, K - 1 - k + 0.9 * scaled[k], linewidth=0.8)
    step = _label_step(K)
    ax.set_yticks(
        [K - 1 - k for k in range(0, K, step)], [_short(names[k]) for k in range(0, K, step)],
        fontsize=8,
    )  # fmt: skip
    ax.set_ylim(-0.2, K)
    ax.set_ylabel(f"activation ({what})")
    ax.set_xlabel("Time (s)")
    ax.set_title("H", loc="left")
