"""The ways of separating, one object each: what they fit and what parts they make.

- :class:`Components`: the NMF's K components, each a part (``-k``).
- :class:`Sources`: S sources found blindly, the consensus of several NMFs whose
  components are grouped by timbre (``--sources``).
- :class:`WithTemplates`: the instruments of learnt templates, with free
  components for the rest (``--templates``, ``--extra``, ``--templates-as``).

Each is a frozen value, checked when made, that knows before any work the
parts it will make (:meth:`Mode.source_names`, :attr:`Mode.n_components`, so
:meth:`Mode.part_names`) and what its spectrogram must be (:meth:`Mode.stft`,
:attr:`Mode.sample_rate`), and that fits a spectrogram (:meth:`Mode.fit`) to
an :class:`~nmfaudio.nmf.NMFResult` and its sources. Running one on an array
or a file is :func:`nmfaudio.separation.separate_as` and
:func:`nmfaudio.separate_file`; ``separate``, ``separate_sources`` and
``separate_with_templates`` are those with a mode made for you.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._checks import non_negative_int, one_of, positive_float, positive_int, random_seed
from .alignment import alignments
from .audio_io import BlockReader, array_reader
from .backend import istft
from .defaults import (
    COMPONENTS_PER_SOURCE,
    N_COMPONENTS,
    N_RESTARTS,
    SCORE_TRIAL_ITERATIONS,
    SOURCES_WINDOWS,
    SPAN_COMPONENTS,
    TEMPLATE_USE,
    TEMPLATE_USES,
)
from .exceptions import AudioFileError, ParameterError
from .frontend import Spectrogram, magnitude, read_spectrogram, stft
from .grouping import (
    blind_sources,
    by_templates,
    by_timbre,
    hpss_analysis,
    percussive_share,
    recording_percussive_share,
    restarts,
    source_names,
    transposed,
)
from .nmf import NMFResult, initialize, nmf
from .outputs import ALIGNED_SCORE, REST, numbered, part_names
from .score import SPAN, Score, pitch_hz
from .settings import ScoreModel, Settings, STFTConfig
from .templates import Templates, as_templates, check_compatible, stack_frames, unstack_components


class Fitted(NamedTuple):
    """What a mode's :meth:`Mode.fit` makes of a spectrogram."""

    result: NMFResult
    sources: dict[str, list[int]] | None = None
    #: The score as the separation used it (aligned to the recording unless told not to).
    score: Score | None = None


class Mode:
    """What every way of separating answers; see the module's docstring."""

    #: Components each factorization of the spectrogram learns (checked against its size).
    n_fitted: int
    #: Components of the separation made (all factorizations' together).
    n_components: int
    #: The recording's sample rate the mode needs (``None``: any).
    sample_rate: int | None = None

    def source_names(self) -> list[str] | None:
        """Names of the sources made, in order; ``None`` when the components are the parts."""
        return None

    def part_names(self, *, components: bool = False) -> list[str]:
        """The parts a separation in this mode writes, one audio file each (see
        :func:`nmfaudio.save`), named without the suffix."""
        return part_names(self.source_names(), self.n_components, components=components)

    def other_files(self) -> list[str]:
        """Files beside the parts that a separation in this mode writes."""
        return []

    def stft(self, settings: Settings, sr: int | None = None) -> STFTConfig:
        """The STFT settings its spectrogram is made with, for a recording at ``sr`` Hz
        (``None``: as far as they are known without the rate, what a request records)."""
        return settings.stft

    def analyses(self, settings: Settings, sr: int | None = None) -> list[tuple[Mode, STFTConfig]]:
        """The analyses of a recording at ``sr`` Hz whose separations' parts this mode's are
        the mean of, each a mode and the STFT it fits: the first is the one whose
        factorization the separation shows (see :class:`nmfaudio.Separation`). One, the mode
        itself with :meth:`stft`, but for :class:`Sources` over several windows."""
        return [(self, self.stft(settings, sr))]

    def for_input(self, path: Path) -> Mode:
        """The mode for the recording at ``path`` (itself, but for :class:`ScoreBeside`)."""
        return self

    def check_rate(self, sr: int) -> None:
        """Raise ParameterError if the mode cannot separate a recording at ``sr`` Hz."""

    def describe(self) -> str:
        """What the fitted components are, for messages: "8 components"."""
        return f"{self.n_fitted} components"

    def asking_for(self, n_components: int) -> str:
        """How to ask this mode for ``n_components`` components a fit, in messages."""
        return f"-k {n_components}, or n_components={n_components}"

    def to_manifest(self) -> dict:
        """What was asked for, as JSON values, with a digest for templates and scores: a
        folder holds the separation of these settings only if its manifest says the same."""
        fields = {f.name: _recorded(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"mode": type(self).__name__, **fields}

    def fit(
        self, spectrogram: Spectrogram, settings: Settings, *, progress: bool = False
    ) -> Fitted:
        """Factorize ``spectrogram.V``: the factorization, its sources and what else it used."""
        raise NotImplementedError


@dataclass(frozen=True)
class Components(Mode):
    """K NMF components, each a part (``component_00``, ...).

    Attributes
    ----------
    n_components : int >= 1
        K (8 by default), at most the spectrogram's bins and frames.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> mode = nmfaudio.Components(4)
    >>> mode.part_names()
    ['component_00', 'component_01', 'component_02', 'component_03']
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> nmfaudio.separate_as(mode, y, 22050).n_components
    4
    """

    n_components: int = N_COMPONENTS

    def __post_init__(self) -> None:
        positive_int("n_components", self.n_components)

    @property
    def n_fitted(self) -> int:
        return self.n_components

    def fit(self, spectrogram, settings, *, progress=False):
        result = nmf(
            spectrogram.V, self.n_components, cost=settings.cost, fit=settings.fit,
            progress=progress,
        )  # fmt: skip
        return Fitted(result)


@dataclass(frozen=True)
class Sources(Mode):
    """S sources, blindly: the consensus of ``n_restarts`` NMFs, each grouped by timbre.

    The spectrogram is factorized ``n_restarts`` times from starts drawn one
    after another from the one seeded generator; each factorization's
    components are grouped into sources by timbre (:func:`nmfaudio.group`); the
    sources of every restart are matched to those of the restart that agrees
    most with the others and each source's model is the mean of its matches
    (see :func:`nmfaudio.grouping.consensus`). Where the recording is mostly
    percussive, each restart may be grouped by its standardised MFCCs instead,
    whichever way agrees better with the others
    (:func:`nmfaudio.grouping.blind_sources`). Which components one random start
    finds, and so how they group, varies a lot; the mean of several is both
    better and steadier (measured in the documentation's "Separation quality",
    ``docs/quality.rst``).

    Attributes
    ----------
    n_sources : int >= 1
    components_per_restart : int >= n_sources or None
        Components of each factorization; ``None``: ``COMPONENTS_PER_SOURCE * n_sources``.
    n_restarts : int >= 1
        Factorizations to average (:data:`~nmfaudio.defaults.N_RESTARTS` by default).
    windows : tuple of float > 0, or None
        STFT windows in seconds (:data:`~nmfaudio.defaults.SOURCES_WINDOWS` by default),
        each at least twice the next: with the default STFT settings, the recording is
        analysed with frames of each (:meth:`STFTConfig.lasting
        <nmfaudio.settings.STFTConfig.lasting>`), the restarts shared among them (the longer
        windows first where they do not share evenly), each analysis separated as above, its
        sources matched to those of the longest window
        (:func:`nmfaudio.grouping.matched_sources`), and each part is the mean of its
        matches (see :meth:`analyses`). A short window resolves strokes, a long one
        partials; each one's errors are its own. ``None``, or STFT settings given: one
        analysis with the settings' STFT.

    Examples
    --------
    >>> import nmfaudio
    >>> mode = nmfaudio.Sources(3, windows=None)
    >>> mode.describe()
    '3 sources, the consensus of 8 fits of 24 components'
    >>> mode.part_names()
    ['source_00', 'source_01', 'source_02']
    >>> mode = nmfaudio.Sources(3, windows=(0.023, 0.093))
    >>> mode.describe()
    '3 sources, the mean over windows of 93 and 23 ms of consensuses of 4 fits of 24 components'
    >>> [(part.n_restarts, stft.n_fft) for part, stft in mode.analyses(nmfaudio.Settings(), 44100)]
    [(4, 4096), (4, 1024)]
    """

    n_sources: int
    components_per_restart: int | None = None
    n_restarts: int = N_RESTARTS
    windows: tuple[float, ...] | None = SOURCES_WINDOWS

    def __post_init__(self) -> None:
        positive_int("n_sources", self.n_sources)
        positive_int("n_restarts", self.n_restarts)
        if self.components_per_restart is not None:
            positive_int("n_components", self.components_per_restart)
            if self.components_per_restart < self.n_sources:
                raise ParameterError(
                    f"{self.components_per_restart} components cannot make {self.n_sources}"
                    " sources: ask for at least one component per source"
                )
        if self.windows is not None:
            self._check_windows()

    def _check_windows(self) -> None:
        if isinstance(self.windows, str) or not isinstance(self.windows, Sequence):
            raise ParameterError(f"windows must be a sequence of seconds, got {self.windows!r}")
        windows = sorted((positive_float("windows", w) for w in self.windows), reverse=True)
        if not windows:
            raise ParameterError("windows must give at least one window (None: the STFT settings')")
        for longer, shorter in itertools.pairwise(windows):
            if longer < 2 * shorter:
                raise ParameterError(
                    f"windows of {longer:g} and {shorter:g} s are too alike: make each at least"
                    " twice the next, so that their frames differ at every sample rate"
                )
        if self.n_restarts < len(windows):
            raise ParameterError(
                f"{self.n_restarts} restarts cannot be shared among {len(windows)} windows: ask"
                " for at least one restart a window"
            )
        object.__setattr__(self, "windows", tuple(windows))  # longest first: the reference

    @property
    def n_fitted(self) -> int:
        return self.components_per_restart or COMPONENTS_PER_SOURCE * self.n_sources

    @property
    def n_components(self) -> int:
        return self.n_restarts * self.n_fitted

    def source_names(self) -> list[str]:
        return numbered("source", self.n_sources)

    def describe(self) -> str:
        if self.windows is not None and len(self.windows) > 1:
            shares = sorted(set(self._shares()), reverse=True)
            fits = " or ".join(map(str, shares)) + (" fit" if shares == [1] else " fits")
            *longer, shortest = (f"{1000 * w:.0f}" for w in self.windows)
            seconds = f"{', '.join(longer)} and {shortest}"
            return (
                f"{self.n_sources} sources, the mean over windows of {seconds} ms of consensuses"
                f" of {fits} of {self.n_fitted} components"
            )
        if self.n_restarts == 1:
            return f"{self.n_sources} sources of one fit of {self.n_fitted} components"
        return (
            f"{self.n_sources} sources, the consensus of {self.n_restarts} fits"
            f" of {self.n_fitted} components"
        )

    def _shares(self) -> list[int]:
        """Each window's restarts, longest window first: as even as they go."""
        n, k = self.n_restarts, len(self.windows)
        return [n // k + (i < n % k) for i in range(k)]

    def analyses(self, settings, sr=None):
        """One analysis per window with the default STFT settings (with ``sr=None``, the
        rate unknown, their STFT as the settings have it), else one with the settings'."""
        if self.windows is None or settings.stft != STFTConfig():
            return [(dataclasses.replace(self, windows=None), settings.stft)]
        return [
            (
                dataclasses.replace(self, n_restarts=share, windows=None),
                lasting(settings, sr, window),
            )
            for window, share in zip(self.windows, self._shares(), strict=True)
        ]

    def asking_for(self, n_components: int) -> str:
        return f"-k {n_components} with --sources, or components_per_restart={n_components}"

    def fit(self, spectrogram, settings, *, progress=False):
        runs = restarts(
            spectrogram, self.n_fitted, self.n_restarts,
            group=by_timbre(spectrogram, self.n_sources), settings=settings, progress=progress,
        )  # fmt: skip
        share = functools.partial(percussive_share_of, spectrogram)
        result, groups = blind_sources(runs, spectrogram, self.n_sources, percussive=share)
        return Fitted(result, source_names(groups))


@dataclass(frozen=True)
class WithTemplates(Mode):
    """The instruments of learnt templates (supervised NMF), one source per set.

    ``use`` says what the templates do (:data:`~nmfaudio.defaults.TEMPLATE_USES`):

    - ``"names"`` (the default): the templates only *name* what free
      factorizations find, as many as ``--sources`` averages
      (:data:`~nmfaudio.defaults.N_RESTARTS`), of
      :data:`~nmfaudio.defaults.COMPONENTS_PER_SOURCE` components per source
      (each set, and the rest if ``n_extra > 0``: what the rest is made of is
      found, not given), nothing fixed. Without a rest, each component goes to the
      set whose templates explain its spectrum best
      (:func:`~nmfaudio.grouping.named_components`); with one (``n_extra > 0``),
      the components are grouped by timbre into one source per set and one
      more, as blind sources are, and each set names the source it explains
      best (:func:`~nmfaudio.grouping.named_sources`); the one left is the rest.
      Either way the templates explain with their copies transposed by each
      semitone up to :data:`~nmfaudio.defaults.NAMING_SEMITONES` either way
      (:func:`~nmfaudio.grouping.transposed`), so that templates learnt on
      other notes name the recording's. Templates of another kit or
      instrument than the recording's then cost little quality or none:
      measured in the documentation's "Separation quality".
    - ``"fixed"``: the templates stay as learnt and their activations are
      learnt; then ``n_extra`` free components (spanning as many frames as
      the given ones) fit the recording around the templates' part of the
      model, which stays as it is, so that they cannot take over an
      instrument the templates describe. One fit, 1/8 of the time of
      ``"names"``; as good only where the templates are of the recording's
      own instruments.
    - ``"adapted"``: as ``"fixed"``, but the templates start from the learnt
      ones and are adapted to the recording (learnt too).

    The free components' source is ``"rest"``.

    Attributes
    ----------
    templates : sequence of Templates or of their files
        One set per instrument (see :func:`nmfaudio.learn`), with distinct
        names, all learnt with the same sample rate and STFT settings (which
        the recording must then have); a path is read with :meth:`Templates.load`.
    n_extra : int >= 0
        Free components, output together as the source ``"rest"``.
    use : {"names", "fixed", "adapted"}
        What the templates do (above).

    With ``"fixed"`` or ``"adapted"`` templates that span several frames, each
    template appears as ``context`` components (see
    :func:`nmfaudio.templates.unstack_components`).

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> sr = 22050
    >>> t = np.arange(sr) / sr
    >>> low, high = np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 880 * t)
    >>> sets = [nmfaudio.learn([low], sr, 2, name="low"),
    ...         nmfaudio.learn([high], sr, 2, name="high")]
    >>> mode = nmfaudio.WithTemplates(sets, n_extra=1)
    >>> mode.part_names()
    ['low', 'high', 'rest']
    >>> mode.describe()
    '2 template sets naming 8 fits of 24 components'
    >>> result = nmfaudio.separate_as(mode, low + high, sr)
    >>> list(result.sources)
    ['low', 'high', 'rest']
    """

    templates: Sequence[Templates]
    n_extra: int = 0
    use: str = TEMPLATE_USE

    def __post_init__(self) -> None:
        templates = as_templates(self.templates)
        check_compatible(templates, templates[0].sr if templates else 0)
        object.__setattr__(self, "templates", tuple(templates))
        non_negative_int("n_extra", self.n_extra)
        one_of("use", self.use, TEMPLATE_USES)

    @property
    def sample_rate(self) -> int:
        return self.templates[0].sr

    @property
    def context(self) -> int:
        return self.templates[0].context

    @property
    def n_fitted(self) -> int:
        if self.use == "names":
            return COMPONENTS_PER_SOURCE * len(self.source_names())
        return 1  # the templates are given: any spectrogram of a frame will do

    @property
    def n_components(self) -> int:
        if self.use == "names":
            return N_RESTARTS * self.n_fitted
        return self.context * (sum(t.n_components for t in self.templates) + self.n_extra)

    def source_names(self) -> list[str]:
        return [t.name for t in self.templates] + [REST] * bool(self.n_extra)

    def describe(self) -> str:
        if self.use == "names":
            return (
                f"{len(self.templates)} template sets naming {N_RESTARTS} fits"
                f" of {self.n_fitted} components"
            )
        return f"{len(self.templates)} {self.use} template sets, {self.n_components} components"

    def asking_for(self, n_components: int) -> str:
        return "fewer template sets or extra components, or use='fixed' (--templates-as fixed)"

    def check_rate(self, sr: int) -> None:
        check_compatible(self.templates, sr)

    def stft(self, settings: Settings, sr: int | None = None) -> STFTConfig:
        config = self.templates[0].config
        if settings.stft not in (STFTConfig(), config):
            raise ParameterError(
                f"the templates were learnt with {config}, not {settings.stft}: templates"
                " bring their STFT settings"
            )
        return config

    def fit(self, spectrogram, settings, *, progress=False):
        if self.use == "names":
            return self._named(spectrogram, settings, progress)
        return self._given(spectrogram, settings, progress)

    def _named(self, spectrogram, settings, progress) -> Fitted:
        names = self.source_names()
        runs = restarts(
            spectrogram, self.n_fitted, N_RESTARTS, group=by_timbre(spectrogram, len(names)),
            settings=settings, progress=progress,
        )  # fmt: skip
        spectra = [transposed(t.spectra) for t in self.templates]  # learnt on other notes, too
        result, groups = by_templates(runs, spectra, rest=self.n_extra > 0)
        return Fitted(result, dict(zip(names, groups, strict=True)))

    def _given(self, spectrogram, settings, progress) -> Fitted:
        templates, context = self.templates, self.context
        V = stack_frames(spectrogram.V, context)
        learnt = np.concatenate([t.W for t in templates], axis=1)
        rng = np.random.default_rng(random_seed(settings.fit.seed))
        fit = dataclasses.replace(settings.fit, seed=rng)
        # The templates first, alone: their activations explain what they can...
        result = nmf(
            V, learnt.shape[1], cost=settings.cost, fit=fit, W=learnt,
            fix_W=self.use == "fixed", progress=progress,
        )  # fmt: skip
        W, H, losses = result.W, result.H, result.losses
        if self.n_extra:
            # ...then the free components fit the recording around them, the
            # templates' part of the model kept as it is. Fitted jointly, they took
            # over instruments the templates describe less well (drums808, another
            # kit's templates, 2 free components: hi-hat -16.8 dB, mean 7.1 dB).
            W0, H0 = initialize(V, self.n_extra, fit=fit)
            kept = np.arange(W.shape[1] + self.n_extra) < W.shape[1]
            result = nmf(
                V, len(kept), cost=settings.cost, fit=fit, W=np.concatenate([W, W0], axis=1),
                H=np.concatenate([H, H0]), fix_W=kept, fix_H=kept, progress=progress,
            )  # fmt: skip
            W, H, losses = result.W, result.H, np.concatenate([losses, result.losses])
        n_templates = W.shape[1]
        W, H = unstack_components(W, H, context)
        # Set s holds templates a..b, and each template k became components j * K + k.
        bounds = np.cumsum([0] + [t.n_components for t in templates] + [self.n_extra])
        sources = {
            name: [j * n_templates + k for j in range(context) for k in range(a, b)]
            for name, a, b in zip(
                [t.name for t in templates] + [REST], bounds[:-1], bounds[1:], strict=True
            )
            if b > a
        }
        return Fitted(NMFResult(W, H, losses, result.cost), sources)


@dataclass(frozen=True)
class WithScore(Mode):
    """The instruments of a score, each note constraining the NMF (Ewert & Müller, 2012).

    Each pitched instrument has a template per pitch it plays, starting as a
    harmonic comb at that pitch (at the recording's tuning) and zero elsewhere,
    which the multiplicative updates keep zero: the template stays harmonic
    while its partials' weights adapt. Its activation starts as one near each
    note of that pitch and zero elsewhere, and stays zero there: the score is a
    constraint, not only a start. Drum sounds have flat templates active just
    after their notes; parts given as spans (:meth:`Score.from_spans`) have
    free templates active in their spans. ``n_extra`` free components,
    unconstrained, take what the score does not hold (the source ``"rest"``).
    Before all this the score is aligned to the recording (:mod:`nmfaudio.alignment`),
    unless ``align`` is False.

    Attributes
    ----------
    score : Score
    n_extra : int >= 0
    align : bool
    model : ScoreModel
        Partials, widths, time tolerances, onset templates, tuning.

    Examples
    --------
    >>> from nmfaudio import Note, Score, WithScore
    >>> score = Score([Note(0.0, 1.0, 45, "bass"), Note(0.0, 1.0, 76, "flute")])
    >>> WithScore(score, n_extra=2).part_names()
    ['bass', 'flute', 'rest']
    """

    score: Score
    n_extra: int = 0
    align: bool = True
    model: ScoreModel = field(default_factory=ScoreModel)

    def __post_init__(self) -> None:
        if not isinstance(self.score, Score):
            raise ParameterError(f"score must be a nmfaudio.Score, got {type(self.score).__name__}")
        if REST in self.score.instruments and self.n_extra:
            raise ParameterError(f"an instrument is named {REST!r}, the free components' name")
        non_negative_int("n_extra", self.n_extra)
        if not isinstance(self.model, ScoreModel):
            raise ParameterError(f"model must be a ScoreModel, got {type(self.model).__name__}")

    def _templates(self) -> list[tuple[str, str, int]]:
        """Each component's (instrument, kind, pitch), kinds "comb", "onset", "drum", "span"."""
        out = []
        for name in self.score.instruments:
            notes = self.score.of(name)
            pitches = sorted({note.pitch for note in notes})
            if notes[0].pitch == SPAN:
                out += [(name, "span", SPAN)] * SPAN_COMPONENTS
            elif notes[0].is_drum:
                out += [(name, "drum", p) for p in pitches]
            else:
                out += [(name, "comb", p) for p in pitches]
                out += [(name, "onset", p) for p in pitches] * self.model.onsets
        return out

    @property
    def n_components(self) -> int:
        return len(self._templates()) + self.n_extra

    @property
    def n_fitted(self) -> int:
        return 1  # the score gives every start: any spectrogram of a frame will do

    def describe(self) -> str:
        rest = f", {self.n_extra} free components for the rest" if self.n_extra else ""
        return f"a score of {len(self.score.instruments)} instruments{rest}"

    def source_names(self) -> list[str]:
        return self.score.instruments + [REST] * bool(self.n_extra)

    def other_files(self) -> list[str]:
        return [ALIGNED_SCORE] if self.score.has_pitches else []

    def stft(self, settings: Settings, sr: int | None = None) -> STFTConfig:
        """See :func:`lasting`, with ``model.window``."""
        return lasting(settings, sr, self.model.window)

    def fit(self, spectrogram, settings, *, progress=False):
        import librosa

        V, sr, config = spectrogram.V, spectrogram.sr, spectrogram.config
        _check_inside(self.score, spectrogram.length / sr)
        # Silence has no tuning (librosa says 0 and warns a second line beside ours), and
        # nothing to align to.
        pitched = self.score.has_pitches
        heard = pitched and V.any()
        tuning = (
            float(librosa.estimate_tuning(S=V, sr=sr, n_fft=config.n_fft))
            if self.model.tuning and heard else 0.0
        )  # fmt: skip
        candidates = [self.score]
        if self.align and heard:
            # Aligned at the other modes' STFT: a window of SCORE_WINDOW smears onsets
            # (an exact score's notes came out 80 ms early), and the features' time
            # resolution is what the alignment was developed and measured with.
            fine = STFTConfig()
            view = V if config == fine else _magnitude_at(spectrogram, fine)
            candidates += alignments(self.score, view, sr, fine, tuning)
        templates = self._templates()
        starts = [
            self._start(score, templates, V, sr, config, tuning, settings) for score in candidates
        ]
        chosen = 0
        if len(candidates) > 1:
            # The alignment can lock on the wrong bar of a repeating part with few notes to
            # go by (a bass of five notes under drums went 1.7 s off an exact score): keep
            # whichever score the model explains the recording better with, after a short
            # fit of each.
            trial = dataclasses.replace(settings.fit, n_iter=SCORE_TRIAL_ITERATIONS, tol=0)
            costs = [
                nmf(V, W0.shape[1], cost=settings.cost, fit=trial, W=W0, H=H0).losses[-1]
                for W0, H0 in starts
            ]
            chosen = int(np.argmin(costs))
        W0, H0 = starts[chosen]
        fit = dataclasses.replace(settings.fit, n_iter=min(settings.fit.n_iter, self.model.n_iter))
        result = nmf(V, W0.shape[1], cost=settings.cost, fit=fit, W=W0, H=H0, progress=progress)
        owners = [name for name, _, _ in templates] + [REST] * self.n_extra
        sources = {
            name: [k for k, owner in enumerate(owners) if owner == name]
            for name in self.source_names()
        }
        # The score as used, to be written beside the parts: a MIDI file holds pitched notes.
        return Fitted(result, sources, candidates[chosen] if pitched else None)

    def _start(self, score, templates, V, sr, config, tuning, settings):
        """The NMF's starting factors for ``score`` (free components drawn from the seed)."""
        W0, H0 = _score_start(score, templates, V, sr, config, tuning, self.model)
        rng = np.random.default_rng(random_seed(settings.fit.seed))
        free = [k for k, (_, kind, _) in enumerate(templates) if kind == "span"]
        if free:  # spans: free templates, random as any NMF's start
            fit = dataclasses.replace(settings.fit, seed=rng)
            W0[:, free] = initialize(V, len(free), fit=fit)[0]
        if self.n_extra:
            We, He = initialize(V, self.n_extra, fit=dataclasses.replace(settings.fit, seed=rng))
            W0, H0 = np.concatenate([W0, We], axis=1), np.concatenate([H0, He])
        return W0, H0


@dataclass(frozen=True)
class ScoreBeside(Mode):
    """For collections: each recording with its own score beside it, ``NAME.mid`` for
    ``NAME.wav``; :class:`WithScore` with these settings for each (:meth:`for_input`).

    A recording without its score is that recording's error.
    """

    n_extra: int = 0
    align: bool = True
    drums: tuple[str, ...] = ()
    model: ScoreModel = field(default_factory=ScoreModel)

    def for_input(self, path: Path) -> WithScore:
        midi = Path(path).with_suffix(".mid")
        if not midi.is_file():
            raise AudioFileError(f"{path}: no score beside it (expected {midi.name})")
        score = Score.from_midi(midi, drums=self.drums)
        return WithScore(score, self.n_extra, self.align, self.model)

    def stft(self, settings: Settings, sr: int | None = None) -> STFTConfig:
        raise ParameterError(
            "ScoreBeside finds each file's score beside it: give an array a WithScore instead"
        )


def lasting(settings: Settings, sr: int | None, window: float | None) -> STFTConfig:
    """STFT settings given are used as given; with the default ones, frames of ``window``
    seconds at ``sr`` (:meth:`STFTConfig.lasting <nmfaudio.settings.STFTConfig.lasting>`).
    ``window=None``, or the rate unknown (``sr=None``), keeps the default ones too."""
    if sr is None or window is None or settings.stft != STFTConfig():
        return settings.stft
    return STFTConfig.lasting(window, sr)


def percussive_share_of(spectrogram: Spectrogram) -> float:
    """:func:`~nmfaudio.grouping.recording_percussive_share` of ``spectrogram``'s recording:
    from its ``V`` where that is made at the analysis the share is taken at (librosa's
    defaults at 22050 Hz), else from its samples, as :func:`_magnitude_at` has them."""
    config, n_bins = hpss_analysis(spectrogram.sr)
    if spectrogram.config == config and spectrogram.V is not None:
        return percussive_share(spectrogram.V[:n_bins])
    if spectrogram.X is None:
        with BlockReader(spectrogram.source) as reader:
            return recording_percussive_share(reader.read, spectrogram.length, spectrogram.sr)
    y = istft(spectrogram.X, config=spectrogram.config, length=spectrogram.length)
    return recording_percussive_share(array_reader(y), spectrogram.length, spectrogram.sr)


def _magnitude_at(spectrogram: Spectrogram, config: STFTConfig) -> np.ndarray:
    """The magnitude of ``spectrogram``'s recording at other STFT settings: from its
    samples (the inverse of its STFT), or its file read again where it was streamed."""
    if spectrogram.X is None:
        return read_spectrogram(spectrogram.source, config).V
    y = istft(spectrogram.X, config=spectrogram.config, length=spectrogram.length)
    return magnitude(stft(y, config))


def _recorded(value: object) -> object:
    """A mode's field as JSON values; arrays (templates, scores) by their digest."""
    if isinstance(value, Templates):
        return {"templates": value.name, "digest": _digest(value.W.tobytes())}
    if isinstance(value, Score):
        return {"score": value.instruments, "digest": _digest(repr(value.notes).encode())}
    if isinstance(value, ScoreModel):
        return dataclasses.asdict(value)
    if isinstance(value, tuple | list):
        return [_recorded(each) for each in value]
    return value


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _check_inside(score: Score, seconds: float) -> None:
    """A score must have a note inside the recording, and no span may start past its end."""
    for note in score.notes:
        if note.pitch == SPAN and note.start >= seconds:
            raise ParameterError(
                f"{note.instrument}: a span starts at {note.start:g} s, past the recording's"
                f" end ({seconds:.2f} s)"
            )
    if not any(note.start < seconds for note in score.notes):
        raise ParameterError(
            f"no note of the score starts inside the recording ({seconds:.2f} s):"
            " is it the score of this recording?"
        )


def _score_start(score, templates, V, sr, config, tuning, model):
    """The starting templates (combs, flat, or zero for free ones) and the activations:
    the data's scale inside each component's allowed frames, zero outside."""
    n_freq, n_frames = V.shape
    freqs = np.arange(n_freq) * sr / config.n_fft
    bin_width = sr / config.n_fft
    times = np.arange(n_frames) * config.hop_length / sr  # frame t is centred there
    W = np.zeros((n_freq, len(templates)), np.float32)
    allowed = np.zeros((len(templates), n_frames), bool)
    for k, (name, kind, pitch) in enumerate(templates):
        notes = [n for n in score.of(name) if n.pitch == pitch]
        if kind == "comb":
            f0 = pitch_hz(pitch, tuning)
            for h in range(1, model.partials + 1):
                low = h * f0 * 2.0 ** (-model.width / 12) - model.bins * bin_width
                high = h * f0 * 2.0 ** (model.width / 12) + model.bins * bin_width
                W[(freqs >= low) & (freqs <= high), k] += h**-model.rolloff
        elif kind in ("onset", "drum"):
            W[1:, k] = 1.0  # flat: a broadband attack or hit
        for note in notes:
            if kind == "comb":
                span = (note.start - model.tolerance, note.end + model.release)
            elif kind == "onset":
                span = (note.start - model.tolerance, note.start + model.tolerance)
            elif kind == "drum":
                span = (note.start - model.tolerance, note.start + model.drum_length)
            else:
                span = (note.start, note.end)
            allowed[k] |= (times >= span[0]) & (times <= span[1])
    heard = {
        owner for k, (owner, kind, _) in enumerate(templates) if kind == "span" or W[:, k].any()
    }
    silent = [name for name in score.instruments if name not in heard]
    if silent:
        raise ParameterError(
            f"every note of {silent[0]!r} is above the Nyquist frequency ({sr / 2:g} Hz):"
            " resample the recording higher, or check the score's octave"
        )
    W /= np.maximum(W.sum(axis=0), np.finfo(np.float32).tiny)
    total = float(np.sum(V, dtype=np.float64))
    H = allowed.astype(np.float32) * np.float32(total / max(1, allowed.sum()))
    return W, H
