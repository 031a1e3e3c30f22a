"""Arrays to separations: signal -> front end -> NMF -> back end -> the parts' signals.

Files to files (streamed, and collections) are :mod:`nmfaudio.pipeline`'s.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import backend
from ._checks import mask_power as check_mask_power
from ._checks import non_negative_int, positive_int, random_seed
from .audio_io import check_samples
from .defaults import HOP_LENGTH, N_FFT
from .exceptions import ParameterError
from .frontend import STFTConfig, check_length, magnitude, stft
from .nmf import NMFResult, cost_options, initialize, nmf
from .templates import (
    REST,
    Templates,
    as_templates,
    check_compatible,
    stack_frames,
    unstack_components,
)


@dataclass
class Separation:
    """A recording split into NMF components.

    Attributes
    ----------
    X : np.ndarray [shape=(n_channels, n_freq, n_frames), complex64] or None
        STFT of every input channel; ``None`` for a separation of a file,
        whose parts are made from the file, read again (:func:`nmfaudio.separate_file`).
    W : np.ndarray [shape=(n_freq, n_components)]
        Spectral templates, columns summing to 1 (unless fitted with sparsity,
        which returns them as fitted).
    H : np.ndarray [shape=(n_components, n_frames)]
        Activations.
    losses : np.ndarray [shape=(n_iter,)]
        The cost minimised (divergence plus penalties) after each NMF iteration.
    sr : int
        Sample rate.
    length : int
        Samples per channel of the input.
    config : STFTConfig
    mask_power : float
    sources : dict of str to list of int, or None
        Named groups of components, one output signal each (from :func:`group`
        or from learnt templates); ``None`` until components are grouped.
    beta : float
        The β of the divergence the NMF minimised (1: KL).
    penalties : dict of str to float
        The penalties of that NMF (see :func:`nmfaudio.nmf`), by name.
    n_channels : int
        Channels of the input (taken from ``X`` when it is given).
    source : Path or None
        The file a separation without ``X`` was made from.
    V : np.ndarray [shape=(n_freq, n_frames)] or None
        The magnitude spectrogram factorized, kept when ``X`` is not.
    """

    X: np.ndarray | None
    W: np.ndarray
    H: np.ndarray
    losses: np.ndarray
    sr: int
    length: int
    config: STFTConfig
    mask_power: float = 2.0
    sources: dict[str, list[int]] | None = None
    beta: float = 1.0
    penalties: dict[str, float] = dataclasses.field(default_factory=dict)
    n_channels: int = 0
    source: Path | None = None
    V: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.X is not None:
            self.n_channels = self.X.shape[0]

    @property
    def n_components(self) -> int:
        return self.W.shape[1]

    @property
    def n_sources(self) -> int:
        """Number of sources (0 until components are grouped)."""
        return len(self.sources or {})

    def iter_components(self) -> Iterator[np.ndarray]:
        """Yield each component's signal, shape ``(n_channels, length)``, one at a time."""
        if "components" in self.__dict__:  # already computed: reuse, don't redo the back end
            return iter(self.components)
        return self._signals(None)

    def iter_sources(self) -> Iterator[np.ndarray]:
        """Yield each source's signal, shape ``(n_channels, length)``, in ``sources`` order.

        A source's signal is the input under the source's soft mask, whose
        model is the sum of its components' (see :func:`nmfaudio.backend.soft_mask`);
        the masks sum to one, so the sources, too, add up to the input.
        """
        if self.sources is None:
            raise ParameterError("no sources: group the components first (nmfaudio.group)")
        return self._signals(list(self.sources.values()))

    def _signals(self, groups: list[list[int]] | None) -> Iterator[np.ndarray]:
        if self.X is None:
            raise ParameterError(
                f"this separation of {self.source} holds no STFT: its parts are made from"
                " the file, block by block, by nmfaudio.save"
            )
        return backend.iter_components(
            self.X, self.W, self.H, config=self.config, length=self.length,
            power=self.mask_power, groups=groups,
        )  # fmt: skip

    def magnitude_frames(self, t0: int, t1: int) -> np.ndarray:
        """Frames ``t0..t1-1`` of the magnitude spectrogram factorized (of the channel mix,
        see :func:`nmfaudio.frontend.magnitude`), without computing the rest."""
        return self.V[:, t0:t1] if self.X is None else magnitude(self.X[..., t0:t1])

    @cached_property
    def components(self) -> np.ndarray:
        """All component signals, shape ``(n_components, n_channels, length)``.

        Computed on first access; for long recordings prefer :func:`nmfaudio.save`
        or :meth:`iter_components`, which hold one component at a time.
        """
        return np.stack(list(self.iter_components()))

    def filenames(self) -> list[str]:
        """``component_00.wav``, ``component_01.wav``, ... (wider numbers past 100)."""
        return numbered("component", self.n_components)

    def part_names(self) -> list[str]:
        """Names of the parts written: the sources', else the components' (without .wav)."""
        if self.sources is not None:
            return list(self.sources)
        return [name.removesuffix(".wav") for name in self.filenames()]

    def parts(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Each part's name, spectrum and activation, as the figures and the report show them.

        Returns
        -------
        names : list of str
            As :meth:`part_names`.
        spectra : np.ndarray [shape=(n_freq, n_parts)]
            A source's templates weighted by their activations' totals, each
            column scaled to sum to 1.
        activations : np.ndarray [shape=(n_parts, n_frames)]
            A source's activations summed, each weighted by its template's level.
        """
        W, H = np.asarray(self.W, np.float64), np.asarray(self.H, np.float64)
        groups = [[k] for k in range(W.shape[1])] if self.sources is None else self.sources.values()
        spectra = np.stack([W[:, g] @ H[g].sum(axis=1) for g in groups], axis=1)
        totals = spectra.sum(axis=0)
        spectra /= np.where(totals > 0, totals, 1)
        level = W.sum(axis=0)  # 1 for learnt templates; each frame's share for multi-frame ones
        activations = np.stack([level[g] @ H[g] for g in groups])
        return self.part_names(), spectra, activations


def numbered(prefix: str, count: int) -> list[str]:
    """``prefix_00``, ``prefix_01``, ... with wider numbers past 100, as ``.wav`` names."""
    width = max(2, len(str(count - 1)))
    return [f"{prefix}_{k:0{width}d}.wav" for k in range(count)]


def separate(
    y: np.ndarray,
    sr: int,
    n_components: int = 8,
    *,
    n_iter: int = 200,
    tol: float = 1e-4,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    mask_power: float = 2.0,
    beta: float | str = 1.0,
    sparsity: float = 0.0,
    continuity: float = 0.0,
    init: str = "random",
    seed: int | np.random.Generator | None = 0,
    progress: bool = False,
) -> Separation:
    """Split a recording into ``n_components`` parts with NMF and soft masks.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        The recording, finite, at least ``n_fft`` samples per channel.
    sr : int > 0
        Sample rate of ``y``.
    n_components : int >= 1
        Number of components K, at most ``min(1 + n_fft // 2, n_frames)``.
    n_iter, tol, init, seed, progress
        Passed to :func:`nmfaudio.nmf`.
    n_fft, hop_length : int
        STFT frame length and hop in samples (Hann window, centred frames).
    mask_power : float > 0
        Exponent of the soft masks (see :func:`nmfaudio.backend.soft_mask`):
        2, Wiener masks, by default; 1 for magnitude-ratio masks.
    beta : float >= 0 or {"is", "kl", "euclidean"}
        The divergence the NMF minimises (see :func:`nmfaudio.nmf`); 1, KL, by default.
    sparsity : float >= 0
        Weight of an L1 penalty on both W and H (see :func:`nmfaudio.nmf.cost_options`).
    continuity : float >= 0
        Weight of the temporal continuity penalty on H (``continuity_H``).

    Returns
    -------
    Separation
        ``.components`` has shape ``(n_components, n_channels, n_samples)``
        and sums over components to ``y``.
    """
    mask_power = check_mask_power(mask_power)
    config = STFTConfig(n_fft=n_fft, hop_length=hop_length)
    spectrogram = analyse(y, sr, config, n_components=n_components, progress=progress)
    result = nmf(
        spectrogram.V, n_components, **cost_options(beta, sparsity, continuity),
        n_iter=n_iter, tol=tol, init=init, seed=seed, progress=progress,
    )  # fmt: skip
    return assemble(spectrogram, result, config, mask_power)


def separate_with_templates(
    y: np.ndarray,
    sr: int,
    templates: Sequence[Templates],
    *,
    n_extra: int = 0,
    adapt: bool = False,
    n_iter: int = 200,
    tol: float = 1e-4,
    mask_power: float = 2.0,
    beta: float | str = 1.0,
    sparsity: float = 0.0,
    continuity: float = 0.0,
    seed: int | np.random.Generator | None = 0,
    progress: bool = False,
) -> Separation:
    """Separate the instruments of learnt templates (supervised NMF).

    The templates stay fixed (or, with ``adapt``, start from the learnt ones)
    and their activations are learnt. Then ``n_extra`` free components
    (templates and activations learnt, spanning as many frames as the given
    ones) fit the recording around the templates' part of the model, which
    stays as it is: they explain what the templates leave and cannot take
    over an instrument the templates describe.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        The recording, at the templates' sample rate.
    sr : int > 0
        Sample rate of ``y``; must equal the templates'.
    templates : sequence of Templates or of their files
        One set per instrument (see :func:`nmfaudio.learn`), with distinct
        names, all learnt with the same sample rate and STFT settings; a path
        is read with :meth:`Templates.load`.
    n_extra : int >= 0
        Free components, output together as the source ``"rest"``.
    adapt : bool
        Start from the learnt templates and adapt them to the recording
        (learn W too) instead of keeping them fixed: for another kit or
        instrument than the templates were learnt from. Each source is still
        the components that started from its set's templates.
    n_iter, tol, seed, progress
        Passed to :func:`nmfaudio.nmf`.
    mask_power : float > 0
        Exponent of the soft masks.
    beta, sparsity, continuity
        The cost, as in :func:`separate`; the same for both fits.

    Returns
    -------
    Separation
        With one source per template set, named after it, plus ``"rest"``
        when ``n_extra > 0``; the sources sum to ``y``. ``losses`` are those
        of the templates' fit, then, with free components, those of the fit
        around it. With templates that
        span several frames, each template appears as ``context`` components
        (see :func:`nmfaudio.templates.unstack_components`).

    Raises
    ------
    ParameterError
        No templates; sets with the same name, or learnt at other rates or
        STFT settings than each other or than ``sr``.
    """
    templates = check_compatible(as_templates(templates), sr)
    mask_power = check_mask_power(mask_power)
    n_extra = non_negative_int("n_extra", n_extra)
    config, context = templates[0].config, templates[0].context
    spectrogram = analyse(y, sr, config, n_components=1, progress=progress)
    V = stack_frames(spectrogram.V, context)
    learnt = np.concatenate([t.W for t in templates], axis=1)
    rng = np.random.default_rng(random_seed(seed))
    options = dict(cost_options(beta, sparsity, continuity), n_iter=n_iter, tol=tol, seed=rng,
                   progress=progress)  # fmt: skip
    # The templates first, alone: their activations explain what they can...
    fit = nmf(V, learnt.shape[1], W=learnt, fix_W=not adapt, **options)
    W, H, losses = fit.W, fit.H, fit.losses
    if n_extra:
        # ...then the free components fit the recording around them, the
        # templates' part of the model kept as it is. Fitted jointly, they took
        # over instruments the templates describe less well (drums808, another
        # kit's templates, 2 free components: hi-hat -16.8 dB, mean 7.1 dB).
        W0, H0 = initialize(V, n_extra, seed=rng)
        kept = np.arange(W.shape[1] + n_extra) < W.shape[1]
        fit = nmf(
            V, len(kept), W=np.concatenate([W, W0], axis=1), H=np.concatenate([H, H0]),
            fix_W=kept, fix_H=kept, **options,
        )  # fmt: skip
        W, H, losses = fit.W, fit.H, np.concatenate([losses, fit.losses])
    n_components = W.shape[1]
    result = NMFResult(*unstack_components(W, H, context), losses, fit.beta, fit.penalties)
    # Set s holds templates a..b, and each template k became components j * K + k.
    bounds = np.cumsum([0] + [t.n_components for t in templates] + [n_extra])
    names = [t.name for t in templates] + [REST]
    sources = {
        name: [j * n_components + k for j in range(context) for k in range(a, b)]
        for name, a, b in zip(names, bounds[:-1], bounds[1:], strict=True)
        if b > a
    }
    return assemble(spectrogram, result, config, mask_power, sources)


@dataclass(frozen=True)
class Spectrogram:
    """What the front end hands the NMF: the magnitude ``V`` and, unless streamed, the STFT.

    Attributes
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
    X : np.ndarray [shape=(n_channels, n_freq, n_frames)] or None
        ``None`` when ``V`` was computed from a file a block at a time
        (:func:`nmfaudio.pipeline.read_spectrogram`): the back end reads it again.
    sr, length, n_channels : int
    source : Path or None
        That file.
    """

    V: np.ndarray
    X: np.ndarray | None
    sr: int
    length: int
    n_channels: int
    source: Path | None = None


def analyse(
    y: np.ndarray | Spectrogram,
    sr: int,
    config: STFTConfig,
    *,
    n_components: int,
    what: str | None = None,
    progress: bool = False,
) -> Spectrogram:
    """Check a recording and return its spectrogram (and STFT).

    ``y`` is a signal, ``(n_channels, n_samples)`` or 1-D, or the
    :class:`Spectrogram` of a file, which is checked against ``sr`` and
    ``config`` and passed on. ``n_components`` is the number of components the
    NMF will learn, checked against the spectrogram's size before any work;
    ``what`` says what asked for them, in the caller's terms, for the error
    message. With ``progress``, a line on stderr says that the work begins,
    once every check has passed.
    """
    positive_int("sr", sr)
    if isinstance(y, Spectrogram):
        if y.sr != sr or y.V.shape[0] != config.n_freq:
            raise ParameterError(
                f"the spectrogram of {y.source} was made at {y.sr} Hz with"
                f" {y.V.shape[0]} bins, not at {sr} Hz with {config.n_freq}"
            )
        spectrogram = y
    else:
        y = _as_signal(y)
        check_samples(y, "the audio")
        check_length(y.shape[1], config)
        warn_if_silent(not y.any())
        spectrogram = None
    length = spectrogram.length if spectrogram else y.shape[1]
    n_channels = spectrogram.n_channels if spectrogram else len(y)
    _check_enough_spectrogram(n_components, what, config.n_frames(length), length / sr, config)
    if progress:
        tqdm.write(
            f"nmfaudio: {length / sr:.1f} s, {n_channels} channel(s) at {sr} Hz:"
            f" STFT, NMF, then masks and inverse STFT",
            file=sys.stderr,
        )
    if spectrogram:
        return spectrogram
    X = stft(y, config)
    return Spectrogram(magnitude(X), X, sr, length, n_channels)


def _as_signal(y) -> np.ndarray:
    """``y`` as float32 samples, ``(n_channels, n_samples)``, or a ParameterError that says
    what was given instead."""
    if isinstance(y, str | os.PathLike):
        raise ParameterError(
            f"y must be an array of samples, got the {type(y).__name__} {str(y)!r}: read a file"
            " with nmfaudio.load, or separate it with nmfaudio.separate_file"
        )
    try:
        y = np.atleast_2d(np.asarray(y, dtype=np.float32))
    except (TypeError, ValueError):
        raise ParameterError(f"y must be an array of samples, got {type(y).__name__}") from None
    if y.ndim != 2 or y.shape[0] == 0:
        raise ParameterError(
            f"y must have shape (n_samples,) or (n_channels, n_samples) with at least one"
            f" channel, got {y.shape}"
        )
    return y


def warn_if_silent(silent: bool) -> None:
    """Say so when the whole recording is silent (its parts will be silent too)."""
    if silent:
        warnings.warn("the audio is silent: every component will be silent", stacklevel=4)


def _check_enough_spectrogram(n_components, what, n_frames, seconds, config) -> None:
    """Each component needs a frame and a frequency bin of its own: say so in the user's terms."""
    positive_int("n_components", n_components)
    what = what or f"{n_components} components"
    if n_components > n_frames:
        raise ParameterError(
            f"{what} need a recording of at least {n_components} STFT frames, but this one"
            f" ({seconds:.2f} s) has {n_frames} frames of {config.hop_length} samples:"
            f" ask for at most {n_frames} components, or give a longer recording"
        )
    if n_components > config.n_freq:
        raise ParameterError(
            f"{what} are more than the {config.n_freq} frequency bins of an"
            f" n_fft={config.n_fft} spectrogram: ask for at most {config.n_freq} components,"
            " or a larger n_fft"
        )


def assemble(spectrogram: Spectrogram, result, config, mask_power, sources=None) -> Separation:
    """A :class:`Separation` of ``spectrogram`` from an :class:`NMFResult`."""
    streamed = spectrogram.X is None
    return Separation(
        X=spectrogram.X, W=result.W, H=result.H, losses=result.losses, sr=spectrogram.sr,
        length=spectrogram.length, config=config, mask_power=mask_power, sources=sources,
        beta=result.beta, penalties=result.penalties, n_channels=spectrogram.n_channels,
        source=spectrogram.source, V=spectrogram.V if streamed else None,
    )  # fmt: skip
