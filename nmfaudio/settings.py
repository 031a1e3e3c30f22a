"""Settings as values: how to analyse, what cost to minimise, how to fit, how to mask.

Each setting is checked once, where its value is made: the library, the command
line (whose argparse types call these constructors) and the manifest (read back
with ``from_manifest``) refuse the same values with the same words. Light to
import (no numpy), so the command line checks its options before loading the
pipeline.

>>> from nmfaudio.settings import Cost, Fit, Settings, STFTConfig
>>> settings = Settings(stft=STFTConfig(n_fft=1024, hop_length=256), cost=Cost(beta="is"),
...                     fit=Fit(n_iter=50))
>>> settings.cost.describe()
'Itakura-Saito divergence'
>>> Settings.from_manifest(settings.to_manifest()) == settings
True
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

from ._checks import audio_format as check_format
from ._checks import (
    frame_length,
    hop,
    mask_power,
    non_negative_float,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
    random_seed,
    subtype_of,
)
from .defaults import (
    BETA,
    BETA_NAMES,
    FORMAT,
    HOP_LENGTH,
    INIT,
    MASK_POWER,
    MAX_N_FFT,
    MIN_HOP,
    N_FFT,
    N_ITER,
    SCORE_BINS,
    SCORE_DRUM_LENGTH,
    SCORE_ITERATIONS,
    SCORE_ONSETS,
    SCORE_PARTIALS,
    SCORE_RELEASE,
    SCORE_ROLLOFF,
    SCORE_TOLERANCE,
    SCORE_WIDTH,
    SCORE_WINDOW,
    SEED,
    TOL,
)
from .exceptions import ParameterError

#: How :class:`Fit` may start the factors (see :func:`nmfaudio.nmf.initialize`).
INITS = ("random", "nndsvda")
#: The STFT windows nmfaudio analyses and resynthesises with.
WINDOWS = ("hann",)


@dataclass(frozen=True)
class STFTConfig:
    """Short-time Fourier transform settings shared by the front and back ends.

    Frames are centred (``center=True``, zero padding) as in ``librosa.stft``,
    so frame ``t`` is centred on sample ``t * hop_length``.

    Attributes
    ----------
    n_fft : int, 1 to 65536
        Frame length in samples (2048 by default).
    hop_length : int
        Hop in samples (512 by default), at least a tenth of the default hop and
        small enough for the frames to overlap (``n_fft - hop_length``).
    window : {"hann"}

    Examples
    --------
    >>> from nmfaudio import STFTConfig
    >>> config = STFTConfig(n_fft=1024, hop_length=256)
    >>> config.n_fft, config.hop_length, config.window
    (1024, 256, 'hann')
    """

    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    window: str = "hann"

    def __post_init__(self) -> None:
        frame_length(self.n_fft)
        hop(self.hop_length)
        one_of("window", self.window, WINDOWS)
        if self.hop_length > self.n_fft:
            raise ParameterError(
                f"hop_length must be at most n_fft={self.n_fft}, got {self.hop_length}"
            )
        # The inverse STFT divides by the summed squared windows; it must not vanish
        # (the NOLA condition, as scipy.signal.check_NOLA tests it).
        import numpy as np

        squares = self.window_values(np.float64) ** 2
        overlapped = np.pad(squares, (0, -self.n_fft % self.hop_length))
        if not overlapped.reshape(-1, self.hop_length).sum(axis=0).min() > 1e-10:
            raise ParameterError(
                f"hop_length={self.hop_length} is too large for a {self.window} window of"
                f" n_fft={self.n_fft}: frames do not overlap enough to invert the STFT"
            )

    def window_values(self, dtype):
        """The analysis (and synthesis) window, ``n_fft`` samples, periodic as for an FFT.

        Computed as ``scipy.signal.get_window("hann", n_fft)`` computes it, to the
        last bit, without importing scipy.signal (a second of start-up).
        """
        import numpy as np

        angles = np.linspace(-np.pi, np.pi, self.n_fft + 1, dtype=np.float64)
        window = np.zeros(self.n_fft + 1)
        for k, weight in enumerate((0.5, 0.5)):  # hann: a generalised cosine window
            window += weight * np.cos(k * angles)
        return window[:-1].astype(dtype)

    @classmethod
    def lasting(cls, seconds: float, sr: int) -> STFTConfig:
        """Frames of about ``seconds`` at ``sr`` Hz, hops of a quarter of a frame: the
        power of two of samples nearest ``sr * seconds``, at most
        :data:`~nmfaudio.defaults.MAX_N_FFT` and at least four of the shortest hop
        (:data:`~nmfaudio.defaults.MIN_HOP`).

        What :class:`~nmfaudio.modes.Sources` and :class:`~nmfaudio.modes.WithScore`
        analyse with when the settings' STFT is the default one: what a window does
        depends on its seconds, not its samples.

        Examples
        --------
        >>> from nmfaudio import STFTConfig
        >>> [STFTConfig.lasting(0.093, sr).n_fft for sr in (8000, 22050, 44100, 48000)]
        [1024, 2048, 4096, 4096]
        >>> STFTConfig.lasting(0.023, 22050).hop_length
        128
        """
        positive_float("seconds", seconds)
        positive_int("sr", sr)
        shortest = 2 ** math.ceil(math.log2(4 * MIN_HOP))
        n_fft = min(MAX_N_FFT, max(shortest, 2 ** round(math.log2(sr * seconds))))
        return cls(n_fft=n_fft, hop_length=n_fft // 4)

    @property
    def n_freq(self) -> int:
        """Number of frequency bins, ``1 + n_fft // 2``."""
        return 1 + self.n_fft // 2

    def n_frames(self, n_samples: int) -> int:
        """Number of STFT frames of a signal ``n_samples`` long."""
        return 1 + n_samples // self.hop_length

    def to_manifest(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_manifest(cls, record: dict) -> STFTConfig:
        return cls(**_known(cls, record))


def check_beta(beta: object) -> float:
    """β as a float, from a number >= 0 or one of the names in ``BETA_NAMES``."""
    if isinstance(beta, str) and beta.lower() in BETA_NAMES:
        return BETA_NAMES[beta.lower()]
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta < float("inf"):
        raise ParameterError(
            f"beta must be a finite number >= 0 or one of {', '.join(BETA_NAMES)}, got {beta!r}"
        )
    return float(beta)


#: The names of the divergences with one, as :meth:`Cost.describe` says them.
_DIVERGENCES = {0.0: "Itakura-Saito divergence", 1.0: "KL divergence", 2.0: "Euclidean distance"}


@dataclass(frozen=True)
class Cost:
    """The cost the NMF minimises: a β-divergence plus penalties (see :func:`nmfaudio.nmf`).

    Attributes
    ----------
    beta : float >= 0 or {"is", "kl", "euclidean", ...}
        0 Itakura-Saito, 1 generalized Kullback-Leibler (the default), 2
        Euclidean, or any β; a name is kept as its number.
    sparsity_W, sparsity_H, l2_W, l2_H, continuity_H : float >= 0
        Weights of the penalties, 0 (left out) by default: ``sparsity_W = a`` is
        scikit-learn's ``alpha_W = a, l1_ratio = 1``, ``l2_W = a`` its
        ``alpha_W = a, l1_ratio = 0``, likewise for H; ``continuity_H`` is
        Virtanen's temporal continuity of the activations.

    Examples
    --------
    >>> from nmfaudio import Cost
    >>> Cost().describe()
    'KL divergence'
    >>> Cost(beta="is", sparsity_H=0.1).describe()
    'Itakura-Saito divergence + sparsity_H 0.1'
    """

    beta: float = BETA
    sparsity_W: float = 0.0
    sparsity_H: float = 0.0
    l2_W: float = 0.0
    l2_H: float = 0.0
    continuity_H: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", check_beta(self.beta))
        for name in _PENALTIES:
            object.__setattr__(self, name, non_negative_float(name, getattr(self, name)))

    @classmethod
    def of(
        cls, *, beta: float | str = BETA, sparsity: float = 0.0, continuity: float = 0.0
    ) -> Cost:
        """The command line's three cost settings: ``sparsity`` weighs L1 on both factors
        alike (scikit-learn's ``alpha_W`` with ``alpha_H="same"``: on H alone, W would grow
        and H shrink to dodge it); ``continuity`` is ``continuity_H``."""
        sparsity = non_negative_float("sparsity", sparsity)  # in the caller's terms
        continuity = non_negative_float("continuity", continuity)
        return cls(beta=beta, sparsity_W=sparsity, sparsity_H=sparsity, continuity_H=continuity)

    @property
    def penalties(self) -> dict[str, float]:
        """The penalties in use, by name."""
        return {name: getattr(self, name) for name in _PENALTIES if getattr(self, name)}

    @property
    def depends_on_scale(self) -> bool:
        """Whether rescaling W up and H down changes the cost (L1 and L2 do, continuity not)."""
        return bool(self.sparsity_W or self.sparsity_H or self.l2_W or self.l2_H)

    def describe(self) -> str:
        """The cost in words, as figures and messages name it: "KL divergence + sparsity_H 0.01"."""
        terms = [_DIVERGENCES.get(self.beta, f"β-divergence (β = {self.beta:g})")]
        return " + ".join(terms + [f"{name} {value:g}" for name, value in self.penalties.items()])

    def to_manifest(self) -> dict:
        return {"beta": self.beta, "penalties": self.penalties}

    @classmethod
    def from_manifest(cls, record: dict) -> Cost:
        penalties = record.get("penalties") or {}
        if not isinstance(penalties, dict) or not set(penalties) <= set(_PENALTIES):
            raise ParameterError(f"unknown penalties {penalties!r}")
        return cls(beta=record.get("beta", BETA), **penalties)


_PENALTIES = ("sparsity_W", "sparsity_H", "l2_W", "l2_H", "continuity_H")


@dataclass(frozen=True)
class Fit:
    """How the NMF is fitted.

    Attributes
    ----------
    n_iter : int >= 1
        Most iterations (200 by default).
    tol : float >= 0
        Stop when an iteration lowers the cost by less than ``tol`` times its
        previous value (1e-4 by default); 0 runs exactly ``n_iter``.
    init : {"random", "nndsvda"}
        How the factors not given start (see :func:`nmfaudio.nmf.initialize`).
    seed : int >= 0, numpy.random.Generator or None
        Seed of the random start: the same seed, the same result (0 by
        default); ``None`` draws a fresh one.

    Examples
    --------
    >>> from nmfaudio import Fit
    >>> fit = Fit(n_iter=100, seed=1)
    >>> fit.n_iter, fit.tol, fit.init
    (100, 0.0001, 'random')
    >>> Fit.from_manifest(fit.to_manifest()) == fit
    True
    """

    n_iter: int = N_ITER
    tol: float = TOL
    init: str = INIT
    seed: object = SEED

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_iter", positive_int("n_iter", self.n_iter))
        object.__setattr__(self, "tol", non_negative_float("tol", self.tol))
        one_of("init", self.init, INITS)
        random_seed(self.seed)

    def to_manifest(self) -> dict:
        # A Generator cannot be written down: the run then cannot be repeated from the
        # manifest, which says so with a seed of None.
        seed = self.seed if isinstance(self.seed, int) else None
        return {"n_iter": self.n_iter, "tol": self.tol, "init": self.init, "seed": seed}

    @classmethod
    def from_manifest(cls, record: dict) -> Fit:
        return cls(**_known(cls, record))


@dataclass(frozen=True)
class Settings:
    """Everything that decides a separation's numbers, besides the way of separating.

    Attributes
    ----------
    stft : STFTConfig
    cost : Cost
    fit : Fit
    mask_power : float, 0 < power <= 8
        Exponent of the soft masks: 2 (the default) Wiener masks, 1 magnitude ratios.

    Examples
    --------
    >>> from nmfaudio import Cost, Fit, Settings
    >>> settings = Settings(cost=Cost(beta="is"), fit=Fit(n_iter=50))
    >>> settings.stft.n_fft, settings.mask_power
    (2048, 2.0)
    >>> Settings.from_manifest(settings.to_manifest()) == settings
    True
    """

    stft: STFTConfig = field(default_factory=STFTConfig)
    cost: Cost = field(default_factory=Cost)
    fit: Fit = field(default_factory=Fit)
    mask_power: float = MASK_POWER

    def __post_init__(self) -> None:
        for name, kind in (("stft", STFTConfig), ("cost", Cost), ("fit", Fit)):
            given(name, getattr(self, name), kind)
        object.__setattr__(self, "mask_power", mask_power(self.mask_power))

    def to_manifest(self) -> dict:
        """The settings as the manifest records them (flat, JSON-ready)."""
        return {
            **self.stft.to_manifest(), **self.cost.to_manifest(), **self.fit.to_manifest(),
            "mask_power": self.mask_power,
        }  # fmt: skip

    @classmethod
    def from_manifest(cls, record: dict) -> Settings:
        """The settings a manifest records; what it leaves out (older manifests) is the default.

        Raises
        ------
        ParameterError
            A recorded value nmfaudio refuses.
        """
        return cls(
            stft=STFTConfig.from_manifest(record), cost=Cost.from_manifest(record),
            fit=Fit.from_manifest(record), mask_power=record.get("mask_power", MASK_POWER),
        )  # fmt: skip


@dataclass(frozen=True)
class Output:
    """What a file's separation writes beside its parts (see :func:`nmfaudio.save`).

    Attributes
    ----------
    format : {"wav", "flac", "ogg", "mp3"}
        The parts' file format, and their suffix (any case). FLAC (24-bit) is
        lossless for inputs of up to 24 bits at about a fifth of float WAV's size
        (measured on 10 minutes of stereo music: 0.34 GB against 1.69 GB); OGG
        (Vorbis) and MP3 are lossy, so their parts add up to the input only
        within the codec's error.
    subtype : str or None
        Sample encoding (any case), one the format takes (:data:`~nmfaudio.defaults.FORMATS`):
        WAV ``"FLOAT"`` (its default), ``"PCM_16"``, ``"PCM_24"``; FLAC ``"PCM_24"``
        (its default), ``"PCM_16"``; ``None``: the format's default. Encodings
        other than float clip samples outside [-1, 1], with a warning.
    components : bool
        With sources: write the components too (they are written anyway without).
    plots : bool
        Also write ``decomposition.png`` and ``components.png``.
    report : bool
        Also write ``report.html``, a page to hear and see the parts.
    reference : str, path-like or None
        With ``report``: a folder of the true parts, scored in the page.

    Examples
    --------
    >>> from nmfaudio import Output
    >>> flac = Output(format="flac")
    >>> flac.suffix, flac.subtype
    ('.flac', 'PCM_24')
    """

    format: str = FORMAT
    subtype: str | None = None
    components: bool = False
    plots: bool = False
    report: bool = False
    reference: object = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", check_format(self.format))
        object.__setattr__(self, "subtype", subtype_of(self.format, self.subtype))
        if self.reference is not None and not self.report:
            raise ParameterError("a reference is scored in the report: ask for the report too")

    @property
    def suffix(self) -> str:
        """The parts' file suffix: ``".wav"``, ``".flac"``, ..."""
        return f".{self.format}"

    def to_manifest(self) -> dict:
        return {
            "format": self.format, "subtype": self.subtype, "components": self.components,
            "plots": self.plots, "report": self.report,
            "reference": None if self.reference is None else str(self.reference),
        }  # fmt: skip


@dataclass(frozen=True)
class ScoreModel:
    """How a score becomes the NMF's starting templates and allowed activations.

    Attributes
    ----------
    partials : int >= 1
        Partials of each pitched template's harmonic comb.
    rolloff : float >= 0
        Partial ``h`` starts with weight ``h ** -rolloff``.
    width : float > 0
        Half-width of each partial in semitones...
    bins : int >= 0
        ...plus this many frequency bins each side (the window's main lobe).
    tolerance : float >= 0
        Seconds before a note's start its activation may be non-zero.
    release : float >= 0
        Seconds after a note's end its activation may still be non-zero (its
        decay and the room's reverberation).
    drum_length : float > 0
        Seconds after a drum note's start its activation may be non-zero.
    onsets : bool
        Add an onset template per pitched (instrument, pitch), flat, active only
        within ``tolerance`` of each of its starts (Ewert & Müller's attacks).
    tuning : bool
        Estimate the recording's tuning (A4 is not always 440 Hz) and move the
        combs to it.
    n_iter : int >= 1
        Iterations of the constrained fit (at most ``Fit.n_iter``): the combs
        and windows are the model's strength, and longer fits let the templates
        drift from them.
    window : float > 0 or None
        Seconds of the STFT window when the settings' STFT is the default
        (:data:`~nmfaudio.defaults.SCORE_WINDOW`; see :meth:`WithScore.stft
        <nmfaudio.modes.WithScore.stft>`); ``None``: the settings' STFT as it is,
        the default one included.

    Examples
    --------
    >>> from nmfaudio import ScoreModel
    >>> model = ScoreModel(width=1.0)
    >>> model.partials, model.width
    (10, 1.0)
    """

    partials: int = SCORE_PARTIALS
    rolloff: float = SCORE_ROLLOFF
    width: float = SCORE_WIDTH
    bins: int = SCORE_BINS
    tolerance: float = SCORE_TOLERANCE
    release: float = SCORE_RELEASE
    drum_length: float = SCORE_DRUM_LENGTH
    onsets: bool = SCORE_ONSETS
    tuning: bool = True
    n_iter: int = SCORE_ITERATIONS
    window: float | None = SCORE_WINDOW

    def __post_init__(self) -> None:
        positive_int("n_iter", self.n_iter)
        if self.window is not None:
            positive_float("window", self.window)
        positive_int("partials", self.partials)
        non_negative_float("rolloff", self.rolloff)
        positive_float("width", self.width)
        non_negative_int("bins", self.bins)
        non_negative_float("tolerance", self.tolerance)
        non_negative_float("release", self.release)
        positive_float("drum_length", self.drum_length)


def given(name: str, value: object, kind: type):
    """``value``, a ``kind`` (one of the settings above), or ``kind()`` for ``None``."""
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise ParameterError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _known(kind, record: dict) -> dict:
    """The entries of ``record`` that are fields of ``kind``."""
    names = {f.name for f in dataclasses.fields(kind)}
    return {key: value for key, value in record.items() if key in names}
