"""Arrays to separations: signal -> front end -> NMF -> back end -> the parts' signals.

:func:`separate_as` runs any way of separating (:mod:`nmfaudio.modes`) on an
array; :func:`separate`, :func:`separate_sources` and :func:`separate_with_templates`
are it with the mode made for you. Files to files (streamed, and collections)
are :mod:`nmfaudio.pipeline`'s.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import backend, frontend
from ._checks import positive_int
from .audio_io import check_samples
from .defaults import N_COMPONENTS, N_RESTARTS, SOURCES_WINDOWS, TEMPLATE_USE
from .exceptions import ParameterError
from .frontend import Spectrogram, check_length
from .grouping import matched_sources
from .modes import Components, Mode, Sources, WithScore, WithTemplates
from .nmf import NMFResult
from .outputs import part_names
from .score import Score
from .settings import Cost, Settings, STFTConfig, given
from .templates import Templates


@dataclass
class Separation:
    """A recording split by NMF, as plain data: what the back end makes the parts from.

    Attributes
    ----------
    spectrogram : Spectrogram
        The recording's magnitude spectrogram and, unless it was streamed from
        a file, its STFT (``spectrogram.X``; a separation of a file makes its
        parts from the file, read again, see :func:`nmfaudio.save`).
    fit : NMFResult
        The factorization: templates ``W``, activations ``H``, the cost after
        each iteration and the cost minimised.
    settings : Settings
        Everything else that decided the numbers: STFT, cost, fit, mask power.
    sources : dict of str to list of int, or None
        Named groups of components, one output signal each (from :func:`nmfaudio.group`,
        blind sources, learnt templates or a score); ``None`` when each component is a part.
    score : Score or None
        With a score: the score as the separation used it, aligned to the recording
        (unless it was told not to align).
    mode : Mode or None
        The way of separating that made it (see :mod:`nmfaudio.modes`); ``None``
        for one assembled otherwise (:func:`nmfaudio.group`, say).
    resolutions : tuple of Separation
        Separations of the same recording with other STFTs, their sources named as
        the sources of this one they match (:func:`nmfaudio.grouping.matched_sources`):
        each source is then the mean of its matches, which add up to the input as
        each separation's do (:class:`~nmfaudio.modes.Sources` over several
        windows). The factorization, its pictures and the components are this one's.

    The attributes below are read from these, for convenience.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> y = np.random.default_rng(0).standard_normal((2, 22050)).astype(np.float32)
    >>> result = nmfaudio.separate(y, 22050, 3)
    >>> result.part_names(), result.W.shape, result.components.shape
    (['component_00', 'component_01', 'component_02'], (1025, 3), (3, 2, 22050))
    >>> bool(np.allclose(result.components.sum(axis=0), y, atol=1e-4))  # they add up
    True
    """

    spectrogram: Spectrogram
    fit: NMFResult
    settings: Settings
    sources: dict[str, list[int]] | None = None
    score: Score | None = None
    mode: Mode | None = None
    resolutions: tuple[Separation, ...] = ()

    @property
    def W(self) -> np.ndarray:
        """Templates, shape ``(n_freq, n_components)``, columns summing to 1 (unless fitted
        with sparsity, which returns them as fitted)."""
        return self.fit.W

    @property
    def H(self) -> np.ndarray:
        """Activations, shape ``(n_components, n_frames)``."""
        return self.fit.H

    @property
    def losses(self) -> np.ndarray:
        """The cost minimised (divergence plus penalties) after each NMF iteration."""
        return self.fit.losses

    @property
    def cost(self) -> Cost:
        return self.fit.cost

    @property
    def X(self) -> np.ndarray | None:
        """STFT of every input channel, ``(n_channels, n_freq, n_frames)``; ``None`` if streamed."""
        return self.spectrogram.X

    @property
    def sr(self) -> int:
        return self.spectrogram.sr

    @property
    def length(self) -> int:
        """Samples per channel of the input."""
        return self.spectrogram.length

    @property
    def n_channels(self) -> int:
        return self.spectrogram.n_channels

    @property
    def source(self) -> Path | None:
        """The file a streamed separation was made from."""
        return self.spectrogram.source

    @property
    def config(self) -> STFTConfig:
        return self.spectrogram.config

    @property
    def mask_power(self) -> float:
        return self.settings.mask_power

    @property
    def n_components(self) -> int:
        return self.W.shape[1]

    def _repr_html_(self) -> str:
        """In Jupyter (and the documentation's gallery): a player per part, with its name and
        level, and the decomposition figure, small (:mod:`nmfaudio.notebook`)."""
        from .notebook import separation_html

        return separation_html(self)

    def describe(self) -> str:
        """What the separation is, in the terms it was asked for: "3 sources, the consensus
        of 8 fits of 24 components"."""
        if self.mode is not None:
            return self.mode.describe()
        if self.sources is None:
            return f"{self.n_components} components"
        return f"{self.n_sources} sources of {self.n_components} components"

    @property
    def n_sources(self) -> int:
        """Number of sources (0 until components are grouped)."""
        return len(self.sources or {})

    def part_names(self) -> list[str]:
        """Names of the parts: the sources', else the components' (their files' stems)."""
        sources = None if self.sources is None else list(self.sources)
        return part_names(sources, self.n_components, components=False)

    def iter_components(self) -> Iterator[np.ndarray]:
        """Yield each component's signal, shape ``(n_channels, length)`` (``(length,)`` for a
        1-D input: the input's layout), one at a time."""
        if "components" in self.__dict__:  # already computed: reuse, don't redo the back end
            return iter(self.components)
        return self._as_given(backend.signals(self, None))

    def _as_given(self, signals: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """Signals in the input's layout: 1-D for a 1-D input."""
        if not self.spectrogram.flat:
            return signals
        return (signal[0] for signal in signals)

    def iter_sources(self) -> Iterator[np.ndarray]:
        """Yield each source's signal, shape ``(n_channels, length)`` (``(length,)`` for a
        1-D input), in ``sources`` order.

        A source's signal is the input under the source's soft mask, whose
        model is the sum of its components' (see :func:`nmfaudio.backend.soft_mask`);
        the masks sum to one, so the sources, too, add up to the input. With
        ``resolutions``, the mean of its matches' signals (all sources are then
        made before the first is yielded).
        """
        if self.sources is None:
            raise ParameterError("no sources: group the components first (nmfaudio.group)")
        signals = backend.signals(self, list(self.sources.values()))
        if not self.resolutions:
            return self._as_given(signals)
        means = list(signals)
        for other in self.resolutions:
            matches = backend.signals(other, [other.sources[name] for name in self.sources])
            for mean, signal in zip(means, matches, strict=True):
                mean += signal
        for mean in means:
            mean /= 1 + len(self.resolutions)
        return self._as_given(iter(means))

    @cached_property
    def components(self) -> np.ndarray:
        """All component signals, shape ``(n_components, n_channels, length)``, or
        ``(n_components, length)`` for a 1-D input.

        Computed on first access; for long recordings prefer :func:`nmfaudio.save`
        or :meth:`iter_components`, which hold one component at a time.
        """
        return np.stack(list(self.iter_components()))


def separate_as(
    mode: Mode,
    y: np.ndarray | Spectrogram,
    sr: int,
    *,
    settings: Settings | None = None,
    progress: bool = False,
) -> Separation:
    """Separate a recording in any way: signal -> front end -> NMF as ``mode`` says.

    Parameters
    ----------
    mode : Components, Sources or WithTemplates
        The way of separating (see :mod:`nmfaudio.modes`).
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)] or Spectrogram
        The recording, finite, at least ``n_fft`` samples per channel; or the
        spectrogram of a file, streamed (:func:`nmfaudio.frontend.read_spectrogram`),
        or a list of them, one for each of ``mode.analyses``.
    sr : int > 0
        Sample rate of ``y``.
    settings : Settings or None
        STFT, cost, fit and mask power; ``None``: the defaults.
    progress : bool
        A line when the work begins and a progress bar over the iterations.

    Returns
    -------
    Separation
        Its parts (sources, else components) add up to ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio.modes import Sources
    >>> from nmfaudio.settings import Fit, Settings
    >>> sr = 22050
    >>> t = np.arange(2 * sr) / sr
    >>> y = np.sin(2 * np.pi * 440 * t) * (t < 1) + np.sin(2 * np.pi * 110 * t) * (t >= 1)
    >>> result = separate_as(Sources(2, n_restarts=2), y, sr, settings=Settings(fit=Fit(n_iter=50)))
    >>> list(result.sources), result.n_components
    (['source_00', 'source_01'], 32)
    """
    if not isinstance(mode, Mode):
        raise ParameterError(f"mode must be Components, Sources or WithTemplates, got {mode!r}")
    settings = given("settings", settings, Settings)
    mode.check_rate(sr)
    analyses = mode.analyses(settings, sr)
    spectrograms = isinstance(y, list | tuple) and all(isinstance(s, Spectrogram) for s in y)
    if spectrograms and len(y) != len(analyses):
        raise ParameterError(f"{mode.describe()} needs {len(analyses)} spectrograms, got {len(y)}")
    separations = []
    for i, (part, config) in enumerate(analyses):
        # The first analysis checks the recording and says what the whole mode will make.
        given_y = y[i] if spectrograms else y
        spectrogram = analyse(given_y, sr, config, part if i else mode, progress=progress and not i)
        part_settings = dataclasses.replace(settings, stft=config)  # as the mode has them
        fitted = part.fit(spectrogram, part_settings, progress=progress)
        if spectrogram.X is not None:  # V is magnitude(X): not held twice
            spectrogram = dataclasses.replace(spectrogram, V=None)
        separations.append(
            Separation(
                spectrogram, fitted.result, part_settings, fitted.sources, fitted.score, mode=part
            )
        )
    if len(separations) == 1:
        return separations[0]
    return dataclasses.replace(averaged(separations), mode=mode)


def averaged(separations: Sequence[Separation]) -> Separation:
    """The first of several separations of one recording, its sources the mean of theirs:
    the others its ``resolutions``, each one's sources renamed as those of the first they
    match (:func:`nmfaudio.grouping.matched_sources`)."""
    first, *others = separations
    others = [dataclasses.replace(other, sources=matched_sources(first, other)) for other in others]
    return dataclasses.replace(first, resolutions=tuple(others))


def separate(
    y: np.ndarray,
    sr: int,
    n_components: int = N_COMPONENTS,
    *,
    settings: Settings | None = None,
    progress: bool = False,
) -> Separation:
    """Split a recording into ``n_components`` parts with NMF and soft masks.

    :func:`separate_as` with :class:`~nmfaudio.modes.Components`.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        The recording, finite, at least ``n_fft`` samples per channel.
    sr : int > 0
        Sample rate of ``y``.
    n_components : int >= 1
        Number of components K, at most ``min(1 + n_fft // 2, n_frames)``.
    settings : Settings or None
        STFT, cost (KL by default), fit and mask power (2, Wiener masks, by
        default; 1 for magnitude-ratio masks); ``None``: the defaults.
    progress : bool

    Returns
    -------
    Separation
        ``.components`` has shape ``(n_components, n_channels, n_samples)``
        and sums over components to ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio.settings import Fit, Settings
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> result = separate(y, 22050, 4, settings=Settings(fit=Fit(n_iter=20)))
    >>> result.components.shape  # a 1-D input gives 1-D parts
    (4, 22050)
    """
    return separate_as(Components(n_components), y, sr, settings=settings, progress=progress)


def separate_sources(
    y: np.ndarray,
    sr: int,
    n_sources: int,
    *,
    n_components: int | None = None,
    n_restarts: int = N_RESTARTS,
    windows: tuple[float, ...] | None = SOURCES_WINDOWS,
    settings: Settings | None = None,
    progress: bool = False,
) -> Separation:
    """Split a recording into ``n_sources`` sources blindly: the consensus of several NMFs.

    :func:`separate_as` with :class:`~nmfaudio.modes.Sources`, which says how.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
    sr : int > 0
    n_sources : int >= 1
    n_components : int >= n_sources or None
        Components of each factorization; ``None``:
        ``COMPONENTS_PER_SOURCE * n_sources``.
    n_restarts : int >= 1
        Factorizations to average; their starts are drawn one after another
        from the generator ``settings.fit.seed`` seeds.
    windows : tuple of float > 0, or None
        STFT windows in seconds, each at least twice the next: one consensus a window,
        the restarts shared among them, their sources averaged (see
        :class:`~nmfaudio.modes.Sources`); ``None``: one, with the settings' STFT.
    settings : Settings or None
    progress : bool

    Returns
    -------
    Separation
        Sources ``source_00``, ``source_01``, ..., which sum to ``y``; its
        components are those of every restart, activations divided by
        ``n_restarts``, and ``losses`` are those of the reference restart.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> from nmfaudio.settings import Fit, Settings
    >>> sr = 22050
    >>> t = np.arange(2 * sr) / sr
    >>> y = np.sin(2 * np.pi * 440 * t) * (t < 1) + np.sin(2 * np.pi * 110 * t) * (t >= 1)
    >>> result = nmfaudio.separate_sources(y, sr, 2, n_restarts=2,
    ...                                    settings=Settings(fit=Fit(n_iter=50)))
    >>> list(result.sources)
    ['source_00', 'source_01']
    """
    mode = Sources(n_sources, n_components, n_restarts, windows)
    return separate_as(mode, y, sr, settings=settings, progress=progress)


def separate_with_templates(
    y: np.ndarray,
    sr: int,
    templates: Sequence[Templates],
    *,
    n_extra: int = 0,
    use: str = TEMPLATE_USE,
    settings: Settings | None = None,
    progress: bool = False,
) -> Separation:
    """Separate the instruments of learnt templates (supervised NMF).

    :func:`separate_as` with :class:`~nmfaudio.modes.WithTemplates`, which says how.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        The recording, at the templates' sample rate.
    sr : int > 0
        Sample rate of ``y``; must equal the templates'.
    templates : sequence of Templates or of their files
    n_extra : int >= 0
        Free components, output together as the source ``"rest"``.
    use : {"names", "fixed", "adapted"}
        What the templates do: name the components of free factorizations
        (the default), stay fixed, or start templates adapted to the recording.
    settings : Settings or None
        The cost (the same for every fit), the fit and the mask power; the
        STFT settings are the templates'.
    progress : bool

    Returns
    -------
    Separation
        With one source per template set, named after it, plus ``"rest"``
        when ``n_extra > 0``; the sources sum to ``y``. ``losses``: with
        ``"names"``, those of the restart the others' sources were matched to
        (with a rest) or of the first; else those of the templates' fit, then,
        with free components, those of the fit around it.

    Raises
    ------
    ParameterError
        No templates; sets with the same name, or learnt at other rates or
        STFT settings than each other or than ``sr``.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> sr = 22050
    >>> t = np.arange(sr) / sr
    >>> low, high = np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 880 * t)
    >>> sets = [nmfaudio.learn([low], sr, 2, name="low"),
    ...         nmfaudio.learn([high], sr, 2, name="high")]
    >>> result = nmfaudio.separate_with_templates(low + high, sr, sets, n_extra=1)
    >>> list(result.sources)
    ['low', 'high', 'rest']
    """
    mode = WithTemplates(templates, n_extra, use)
    return separate_as(mode, y, sr, settings=settings, progress=progress)


def analyse(
    y: np.ndarray | Spectrogram, sr: int, config: STFTConfig, mode: Mode, *, progress: bool = False
) -> Spectrogram:
    """Check a recording and return its spectrogram (and STFT).

    ``y`` is a signal, ``(n_channels, n_samples)`` or 1-D, or the
    :class:`Spectrogram` of a file, which is checked against ``sr`` and
    ``config`` and passed on. The components each factorization of ``mode``
    learns are checked against the spectrogram's size before any work, and
    refused in the mode's terms. With ``progress``, a line on stderr says that
    the work begins, once every check has passed (for an array: a file's was
    said before it was read, see :func:`nmfaudio.separate_file`).
    """
    positive_int("sr", sr)
    if isinstance(y, Spectrogram):
        if y.sr != sr or y.config != config:
            raise ParameterError(
                f"the spectrogram of {y.source} was made at {y.sr} Hz with {y.config},"
                f" not at {sr} Hz with {config}"
            )
        spectrogram = y
    else:
        flat = np.ndim(y) == 1
        y = _as_signal(y)
        check_samples(y, "the audio")
        check_length(y.shape[1], config)
        frontend.warn_if_silent(not y.any())
        spectrogram = None
    length = spectrogram.length if spectrogram else y.shape[1]
    n_channels = spectrogram.n_channels if spectrogram else len(y)
    _check_enough_spectrogram(mode, config.n_frames(length), length / sr, config)
    if progress and spectrogram is None:
        announce(f"{length / sr:.1f} s, {n_channels} channel(s) at {sr} Hz", mode)
    if spectrogram is None:
        spectrogram = dataclasses.replace(frontend.spectrogram(y, sr, config), flat=flat)
    return spectrogram


def announce(what: str, mode: Mode) -> None:
    """The line on stderr that says the work begins, and what it will make."""
    tqdm.write(f"nmfaudio: {what}: {mode.describe()}", file=sys.stderr)


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


def _check_enough_spectrogram(mode: Mode, n_frames: int, seconds: float, config) -> None:
    """Each component needs a frame and a frequency bin of its own: say so in the user's terms."""
    n_components = mode.n_fitted
    if n_components > n_frames:
        raise ParameterError(
            f"{n_components} components need a recording of at least {n_components} STFT"
            f" frames, but this one ({seconds:.2f} s) has {n_frames} frames of"
            f" {config.hop_length} samples: ask for at most {n_frames} components"
            f" ({mode.asking_for(n_frames)}), or give a longer recording"
        )
    if n_components > config.n_freq:
        raise ParameterError(
            f"{n_components} components are more than the {config.n_freq} frequency bins of an"
            f" n_fft={config.n_fft} spectrogram: ask for at most {config.n_freq} components"
            f" ({mode.asking_for(config.n_freq)}), or a larger n_fft"
        )


def separate_with_score(
    y: np.ndarray,
    sr: int,
    score: Score,
    *,
    n_extra: int = 0,
    align: bool = True,
    settings: Settings | None = None,
    progress: bool = False,
) -> Separation:
    """Separate the instruments of a score: who plays which note, when.

    :func:`separate_as` with :class:`~nmfaudio.modes.WithScore`, which says how.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
    sr : int > 0
    score : Score
        From a MIDI file (:meth:`Score.from_midi`), spans of time
        (:meth:`Score.from_spans`) or notes of a script.
    n_extra : int >= 0
        Free components for what the score does not hold, the source ``"rest"``.
    align : bool
        Align the score to the recording first (the result's ``score`` is the
        aligned one).
    settings : Settings or None
    progress : bool

    Returns
    -------
    Separation
        One source per instrument of the score, named after it (plus ``"rest"``);
        they sum to ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio import Note, Score
    >>> sr = 22050
    >>> t = np.arange(2 * sr) / sr
    >>> y = np.sin(2 * np.pi * 220 * t) * (t < 1) + np.sin(2 * np.pi * 330 * t) * (t >= 1)
    >>> score = Score([Note(0.0, 1.0, 57, "low"), Note(1.0, 2.0, 64, "high")])
    >>> list(separate_with_score(y, sr, score, align=False).sources)
    ['low', 'high']
    """
    mode = WithScore(score, n_extra, align)
    return separate_as(mode, y, sr, settings=settings, progress=progress)
