"""The ways of separating, one object each: what they fit and what parts they make.

- :class:`Components`: the NMF's K components, each a part (``-k``).
- :class:`Sources`: S sources found blindly, the consensus of several NMFs whose
  components are grouped by timbre (``--sources``).
- :class:`WithTemplates`: the instruments of learnt templates, with free
  components for the rest (``--templates``, ``--extra``, ``--adapt``).

Each is a frozen value, checked when made, that knows before any work the
parts it will make (:meth:`Mode.source_names`, :attr:`Mode.n_components`, so
:meth:`Mode.file_names`) and what its spectrogram must be (:meth:`Mode.stft`,
:attr:`Mode.sample_rate`), and that fits a spectrogram (:meth:`Mode.fit`) to
an :class:`~nmfaudio.nmf.NMFResult` and its sources. Running one on an array
or a file is :func:`nmfaudio.separation.separate_as` and
:func:`nmfaudio.separate_file`; ``separate``, ``separate_sources`` and
``separate_with_templates`` are those with a mode made for you.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import non_negative_int, positive_int, random_seed
from .defaults import COMPONENTS_PER_SOURCE, N_COMPONENTS, N_RESTARTS
from .exceptions import ParameterError
from .frontend import Spectrogram
from .grouping import consensus, restarts, source_names
from .nmf import NMFResult, initialize, nmf
from .outputs import REST, numbered, part_files
from .settings import Settings, STFTConfig
from .templates import Templates, as_templates, check_compatible, stack_frames, unstack_components


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

    def file_names(self, *, components: bool = False) -> list[str]:
        """The audio files a separation in this mode writes (see :func:`nmfaudio.save`)."""
        return part_files(self.source_names(), self.n_components, components=components)

    def stft(self, settings: Settings) -> STFTConfig:
        """The STFT settings its spectrogram is made with."""
        return settings.stft

    def check_rate(self, sr: int) -> None:
        """Raise ParameterError if the mode cannot separate a recording at ``sr`` Hz."""

    def describe(self) -> str:
        """What the fitted components are, for messages: "8 components"."""
        return f"{self.n_fitted} components"

    def fit(
        self, spectrogram: Spectrogram, settings: Settings, *, progress: bool = False
    ) -> tuple[NMFResult, dict[str, list[int]] | None]:
        """Factorize ``spectrogram.V``; return the factorization and its sources."""
        raise NotImplementedError


@dataclass(frozen=True)
class Components(Mode):
    """K NMF components, each a part (``component_00``, ...).

    Attributes
    ----------
    n_components : int >= 1
        K (8 by default), at most the spectrogram's bins and frames.
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
        return result, None


@dataclass(frozen=True)
class Sources(Mode):
    """S sources, blindly: the consensus of ``n_restarts`` NMFs, each grouped by timbre.

    The spectrogram is factorized ``n_restarts`` times from starts drawn one
    after another from the one seeded generator; each factorization's
    components are grouped into sources by timbre (:func:`nmfaudio.group`); the
    sources of every restart are matched to those of the restart that agrees
    most with the others and each source's model is the mean of its matches
    (see :func:`nmfaudio.grouping.consensus`). Which components one random start
    finds, and so how they group, varies a lot; the mean of several is both
    better and steadier (measured in the README's "Separation quality").

    Attributes
    ----------
    n_sources : int >= 1
    components_per_restart : int >= n_sources or None
        Components of each factorization; ``None``: ``COMPONENTS_PER_SOURCE * n_sources``.
    n_restarts : int >= 1
        Factorizations to average (:data:`~nmfaudio.defaults.N_RESTARTS` by default).
    """

    n_sources: int
    components_per_restart: int | None = None
    n_restarts: int = N_RESTARTS

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

    @property
    def n_fitted(self) -> int:
        return self.components_per_restart or COMPONENTS_PER_SOURCE * self.n_sources

    @property
    def n_components(self) -> int:
        return self.n_restarts * self.n_fitted

    def source_names(self) -> list[str]:
        return numbered("source", self.n_sources)

    def describe(self) -> str:
        if self.components_per_restart is not None:
            return super().describe()
        return (
            f"{self.n_sources} sources of {COMPONENTS_PER_SOURCE} components"
            f" ({self.n_fitted} in all)"
        )

    def fit(self, spectrogram, settings, *, progress=False):
        runs = restarts(
            spectrogram, self.n_sources, self.n_fitted, self.n_restarts,
            settings=settings, progress=progress,
        )  # fmt: skip
        result, groups = consensus(runs)
        return result, source_names(groups)


@dataclass(frozen=True)
class WithTemplates(Mode):
    """The instruments of learnt templates (supervised NMF), one source per set.

    The templates stay fixed (or, with ``adapt``, start from the learnt ones)
    and their activations are learnt. Then ``n_extra`` free components
    (templates and activations learnt, spanning as many frames as the given
    ones) fit the recording around the templates' part of the model, which
    stays as it is: they explain what the templates leave and cannot take
    over an instrument the templates describe. Their source is ``"rest"``.

    Attributes
    ----------
    templates : sequence of Templates or of their files
        One set per instrument (see :func:`nmfaudio.learn`), with distinct
        names, all learnt with the same sample rate and STFT settings (which
        the recording must then have); a path is read with :meth:`Templates.load`.
    n_extra : int >= 0
        Free components, output together as the source ``"rest"``.
    adapt : bool
        Start from the learnt templates and adapt them to the recording
        (learn W too) instead of keeping them fixed: for another kit or
        instrument than the templates were learnt from. Each source is still
        the components that started from its set's templates.

    With templates that span several frames, each template appears as
    ``context`` components (see :func:`nmfaudio.templates.unstack_components`).
    """

    templates: Sequence[Templates]
    n_extra: int = 0
    adapt: bool = False

    def __post_init__(self) -> None:
        templates = as_templates(self.templates)
        check_compatible(templates, templates[0].sr if templates else 0)
        object.__setattr__(self, "templates", tuple(templates))
        non_negative_int("n_extra", self.n_extra)

    @property
    def sample_rate(self) -> int:
        return self.templates[0].sr

    @property
    def context(self) -> int:
        return self.templates[0].context

    @property
    def n_fitted(self) -> int:
        return 1  # the templates are given: any spectrogram of a frame will do

    @property
    def n_components(self) -> int:
        return self.context * (sum(t.n_components for t in self.templates) + self.n_extra)

    def source_names(self) -> list[str]:
        return [t.name for t in self.templates] + [REST] * bool(self.n_extra)

    def check_rate(self, sr: int) -> None:
        check_compatible(self.templates, sr)

    def stft(self, settings: Settings) -> STFTConfig:
        config = self.templates[0].config
        if settings.stft not in (STFTConfig(), config):
            raise ParameterError(
                f"the templates were learnt with {config}, not {settings.stft}: templates"
                " bring their STFT settings"
            )
        return config

    def fit(self, spectrogram, settings, *, progress=False):
        templates, context = self.templates, self.context
        V = stack_frames(spectrogram.V, context)
        learnt = np.concatenate([t.W for t in templates], axis=1)
        rng = np.random.default_rng(random_seed(settings.fit.seed))
        fit = dataclasses.replace(settings.fit, seed=rng)
        # The templates first, alone: their activations explain what they can...
        result = nmf(
            V, learnt.shape[1], cost=settings.cost, fit=fit, W=learnt, fix_W=not self.adapt,
            progress=progress,
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
        return NMFResult(W, H, losses, result.cost), sources
