"""Learnt spectral templates: one set per instrument, for supervised separation.

A set is learnt by KL-NMF on the spectrograms of isolated recordings of one
instrument and kept with the sample rate and STFT settings it was learnt
with: templates only describe spectrograms computed the same way.

A template spans ``context`` consecutive frames: a short spectro-temporal
pattern, which holds how a sound evolves (a drum's attack into its decay)
where a single spectrum cannot; NMFD (Smaragdis, 2004; libnmfd) models sounds
the same way. The NMF then runs on "stacked" spectrograms, each column the
``context`` frames from there on, and for the masks each template becomes
``context`` ordinary components, one per frame of its pattern, with the
activations shifted accordingly.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._checks import plain_name, positive_int, sample_rate
from .defaults import TEMPLATE_CONTEXT
from .exceptions import AudioFileError, ParameterError
from .frontend import check_length, magnitude, stft
from .nmf import nmf
from .outputs import REST, write_file
from .settings import Cost, Settings, STFTConfig, given

_FORMAT = "nmfaudio-templates-1"


@dataclass(frozen=True)
class Templates:
    """A named set of spectral templates and the analysis they belong to.

    Attributes
    ----------
    name : str
        The instrument; separated sources are named (and files written) after it.
    W : np.ndarray [shape=(context * n_freq, n_components)]
        Templates, each column summing to 1.
    sr : int
        Sample rate of the recordings they were learnt from, 1000 to 655350 Hz.
    config : STFTConfig
        STFT settings they were learnt with.
    context : int >= 1
        Frames each template spans; ``W`` stacks them, first frame on top.
    cost : Cost
        The cost they were learnt with.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, nmfaudio
    >>> sr = 22050
    >>> t = np.arange(sr) / sr
    >>> low, high = np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 880 * t)
    >>> bass = nmfaudio.learn([low], sr, 2, name="bass")
    >>> bass.name, bass.W.shape, bass.sr
    ('bass', (2050, 2), 22050)
    >>> path = os.path.join(tempfile.mkdtemp(), "bass.npz")
    >>> bass.save(path).name
    'bass.npz'
    >>> nmfaudio.Templates.load(path).name
    'bass'
    """

    name: str
    W: np.ndarray
    sr: int
    config: STFTConfig
    context: int = 1
    cost: Cost = field(default_factory=Cost)

    def __post_init__(self) -> None:
        check_name(self.name)
        sample_rate("sr", self.sr)
        given("config", self.config, STFTConfig)
        given("cost", self.cost, Cost)
        positive_int("context", self.context)
        rows = self.context * self.config.n_freq
        if self.W.ndim != 2 or self.W.shape[0] != rows or self.W.shape[1] == 0:
            raise ParameterError(
                f"templates {self.name!r}: W must have shape ({rows}, K) for"
                f" n_fft={self.config.n_fft} and context={self.context}, got {self.W.shape}"
            )
        if not np.isfinite(self.W).all() or self.W.min() < 0:
            raise ParameterError(f"templates {self.name!r}: W must be finite and non-negative")

    @property
    def n_components(self) -> int:
        return self.W.shape[1]

    @property
    def spectra(self) -> np.ndarray:
        """Each template's spectrum, the mean of its ``context`` frames:
        ``(n_freq, n_components)``, what names components of one frame."""
        return self.W.reshape(self.context, self.config.n_freq, -1).mean(axis=0)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the set to a ``.npz`` file, atomically; return its path."""

        def write(target: Path) -> None:
            with open(target, "wb") as file:  # a file object: np.savez adds no suffix
                np.savez(
                    file, format=_FORMAT, name=self.name, W=self.W, sr=self.sr,
                    n_fft=self.config.n_fft, hop_length=self.config.hop_length,
                    window=self.config.window, context=self.context, beta=self.cost.beta,
                    penalties=json.dumps(self.cost.penalties),
                )  # fmt: skip

        return write_file(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Templates:
        """Read a set written by :meth:`save`.

        Raises
        ------
        AudioFileError
            The file is missing or is not an nmfaudio template file.
        """
        path = Path(path)
        if not path.is_file():
            raise AudioFileError(f"{path}: no such file")
        try:
            _check_members(path)  # from the headers, before anything is inflated
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != _FORMAT:
                    raise ValueError
                config = STFTConfig(
                    n_fft=int(data["n_fft"]),
                    hop_length=int(data["hop_length"]),
                    window=str(data["window"]),
                )
                # Files from before β and penalties were recorded: the default cost.
                cost = Cost.from_manifest({
                    **({"beta": float(data["beta"])} if "beta" in data else {}),
                    "penalties": _penalties(str(data["penalties"])) if "penalties" in data else {},
                })  # fmt: skip
                return cls(
                    str(data["name"]), data["W"], int(data["sr"]), config, int(data["context"]),
                    cost,
                )  # fmt: skip
        except ParameterError as exc:  # a template file, with settings nmfaudio refuses
            raise AudioFileError(
                f"{path}: not an nmfaudio template file that can be used ({exc})"
            ) from None
        except (OSError, ValueError, KeyError, TypeError, EOFError, RecursionError,
                OverflowError, zipfile.BadZipFile):  # fmt: skip
            raise AudioFileError(
                f"{path}: not an nmfaudio template file (make one with 'nmfaudio learn')"
            ) from None


#: What a template file holds: every member a scalar but ``W``.
_MEMBERS = ("format", "name", "W", "sr", "n_fft", "hop_length", "window", "context")
#: Members added since: the cost they were learnt with.
_COST_MEMBERS = ("beta", "penalties")

#: Most entries a template file's ``W`` may have: 2**26 float32 are 256 MiB, a set of
#: 2048 eight-frame templates at n_fft 8192 (the largest sets made in practice are a
#: hundredth of that). A bigger claim is refused before it is read.
MAX_TEMPLATE_ENTRIES = 2**26


def _check_members(path: Path) -> None:
    """Raise ValueError unless the archive holds exactly the members of a template file,
    each of a plausible shape and a plain dtype, judged from its header alone."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = {info.filename.removesuffix(".npy") for info in infos}
        if len(names) != len(infos) or names - set(_COST_MEMBERS) != set(_MEMBERS):
            raise ValueError("other members")
        for info in infos:
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(member)
            if dtype.hasobject:
                raise ValueError("objects")
            if info.filename == "W.npy":
                if len(shape) != 2 or math.prod(shape) > MAX_TEMPLATE_ENTRIES:
                    raise ValueError("W too large")
            elif shape != ():
                raise ValueError("not a scalar")


def _penalties(text: str) -> dict[str, float]:
    """The penalties member, a JSON object of names to non-negative numbers."""
    penalties = json.loads(text)
    if not isinstance(penalties, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and v >= 0 for k, v in penalties.items()
    ):
        raise ValueError("penalties")
    return {k: float(v) for k, v in penalties.items()}


def learn(
    signals: Sequence[np.ndarray],
    sr: int,
    n_components: int,
    *,
    name: str = "templates",
    context: int = TEMPLATE_CONTEXT,
    settings: Settings | None = None,
    progress: bool = False,
) -> Templates:
    """Learn spectral templates of one instrument from isolated recordings.

    The magnitude spectrograms of all recordings, their frames stacked
    ``context`` at a time (see :func:`stack_frames`), are put side by side and
    factorized with NMF; the templates are the columns of W, scaled to sum to 1.

    Parameters
    ----------
    signals : sequence of np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        Recordings of the instrument alone, all at ``sr``.
    sr : int
        Their sample rate, 1000 to 655350 Hz.
    n_components : int >= 1
        Number of templates.
    name : str
        Name of the instrument, used for the separated files.
    context : int >= 1
        Frames each template spans (:data:`~nmfaudio.defaults.TEMPLATE_CONTEXT`,
        two, by default).
    settings : Settings or None
        The STFT settings (kept with the templates), the cost (recorded with
        them) and the fit; the mask power is not used. ``None``: the defaults.
    progress : bool

    Returns
    -------
    Templates
        The templates, with the sample rate, STFT settings and context they were learnt with.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> sr = 22050
    >>> t = np.arange(sr) / sr
    >>> low, high = np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 880 * t)
    >>> templates = nmfaudio.learn([low, 0.5 * low], sr, 2, name="bass")
    >>> templates.name, templates.W.shape
    ('bass', (2050, 2))
    """
    check_name(name)
    sr = sample_rate("sr", sr)
    context = positive_int("context", context)
    settings = given("settings", settings, Settings)
    config = settings.stft
    if len(signals) == 0:
        raise ParameterError("no recordings to learn from")
    spectrograms = []
    for y in signals:
        y = np.atleast_2d(np.asarray(y, dtype=np.float32))
        check_length(y.shape[-1], config)
        spectrograms.append(stack_frames(magnitude(stft(y, config)), context))
    V = np.concatenate(spectrograms, axis=1)
    if not V.any():
        raise ParameterError("the recordings are silent: there is nothing to learn")
    result = nmf(V, n_components, cost=settings.cost, fit=settings.fit, progress=progress)
    W = result.W
    if result.cost.depends_on_scale:  # nmf() left the fitted scale
        W = W / np.maximum(W.sum(axis=0), np.finfo(W.dtype).tiny)
    return Templates(name, W, sr, config, context, result.cost)


def stack_frames(V: np.ndarray, context: int) -> np.ndarray:
    """Each frame with the ``context - 1`` frames after it, as one tall column.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)]
    context : int >= 1

    Returns
    -------
    np.ndarray [shape=(context * n_freq, n_frames)]
        Block ``j`` of rows is ``V`` shifted ``j`` frames left, zeros past the end.
    """
    n_frames = V.shape[1]
    padded = np.pad(V, ((0, 0), (0, context - 1)))
    return np.concatenate([padded[:, j : j + n_frames] for j in range(context)], axis=0)


def unstack_components(W: np.ndarray, H: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectro-temporal templates as ordinary components, for the masks.

    Template ``k``, active at frame ``t``, contributes its frame ``j`` to frame
    ``t + j``: component ``j * K + k`` has template ``W[j * n_freq:(j + 1) * n_freq, k]``
    and activation ``H[k]`` delayed ``j`` frames.

    Parameters
    ----------
    W : np.ndarray [shape=(context * n_freq, K)]
    H : np.ndarray [shape=(K, n_frames)]
    context : int >= 1

    Returns
    -------
    W : np.ndarray [shape=(n_freq, context * K)]
    H : np.ndarray [shape=(context * K, n_frames)]
    """
    n_freq, n_frames = W.shape[0] // context, H.shape[1]
    frames = [W[j * n_freq : (j + 1) * n_freq] for j in range(context)]
    delayed = [np.pad(H, ((0, 0), (j, 0)))[:, :n_frames] for j in range(context)]
    return np.concatenate(frames, axis=1), np.concatenate(delayed, axis=0)


def check_name(name: object) -> str:
    """A set's name must be usable as a file name."""
    return plain_name("a template name", name)


def as_templates(items: Sequence) -> list[Templates]:
    """Template sets, given as :class:`Templates` or as their files (read here)."""
    if isinstance(items, Templates | str | os.PathLike):
        items = [items]
    sets = []
    for item in items:
        if isinstance(item, str | os.PathLike):
            item = Templates.load(item)
        elif not isinstance(item, Templates):
            raise ParameterError(
                f"templates must be Templates or template files, got {type(item).__name__}"
            )
        sets.append(item)
    return sets


def check_compatible(templates: Sequence[Templates], sr: int) -> list[Templates]:
    """Return the sets as a list if they can separate one recording at ``sr``.

    Raises
    ------
    ParameterError
        No sets, two sets with one name (or named "rest"), or sets learnt at
        another sample rate, STFT setting or context than the first, or at
        another rate than ``sr``.
    """
    templates = list(templates)
    if not templates:
        raise ParameterError("no templates given: pass one or more template sets")
    first = templates[0]
    names = set()
    for t in templates:
        if t.name in names or t.name == REST:
            raise ParameterError(
                f"template sets need distinct names other than {REST!r}; {t.name!r} is taken"
            )
        names.add(t.name)
        if t.context != first.context:
            raise ParameterError(
                f"templates {t.name!r} span {t.context} frames, templates {first.name!r}"
                f" {first.context}: learn them with the same context"
            )
        if t.config != first.config:
            raise ParameterError(
                f"templates {t.name!r} were learnt with {t.config}, templates"
                f" {first.name!r} with {first.config}: learn them with the same settings"
            )
        if t.sr != first.sr:
            raise ParameterError(
                f"templates {t.name!r} were learnt at {t.sr} Hz, templates {first.name!r}"
                f" at {first.sr} Hz: learn them at one sample rate"
            )
    if sr != first.sr:
        raise ParameterError(
            f"the templates were learnt at {first.sr} Hz but the recording is at {sr} Hz:"
            f" resample it to {first.sr} Hz first"
        )
    return templates
