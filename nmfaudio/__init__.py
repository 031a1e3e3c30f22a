"""nmfaudio: separate music recordings into parts with non-negative matrix factorization.

The pipeline has three stages, each a module you can use on its own:

1. :mod:`nmfaudio.frontend` -- STFT of every channel, magnitude spectrogram V.
2. :mod:`nmfaudio.nmf` -- V ~ W H under a β-divergence (KL by default), with penalties.
3. :mod:`nmfaudio.backend` -- soft masks, inverse STFT, one signal per component.

Their settings are values (:mod:`nmfaudio.settings`: :class:`STFTConfig`,
:class:`Cost`, :class:`Fit`, gathered in :class:`Settings`), and each way of
separating is one object (:mod:`nmfaudio.modes`): :class:`Components`,
:class:`Sources` (blindly, the consensus of several factorizations, each
grouped by :func:`group`) and :class:`WithTemplates` (instruments of templates
from :func:`learn`). :func:`separate_as` runs any of them on an array
(:func:`separate`, :func:`separate_sources` and :func:`separate_with_templates`
with the mode made for you) and :func:`save` writes the parts;
:func:`separate_file` runs them from a file to files, a block at a time, and
:func:`separate_files` on collections (:mod:`nmfaudio.pipeline`);
:mod:`nmfaudio.report` writes a page to hear them, :func:`evaluate` scores
sources against references and :func:`load` reads audio files.
"""

import importlib
import sys
import types
from typing import TYPE_CHECKING

from ._version import __version__
from .exceptions import AudioFileError, NmfaudioError, ParameterError

# Each name is imported from its module on first use: the pipeline pulls in
# numpy, librosa, numba and scipy, which take a second or more to load, and
# `import nmfaudio` (or `nmfaudio --version`) should not wait for what it does
# not use. `nmfaudio.plot` (matplotlib) loads only when drawn with.
_WHERE = {
    "load": "audio_io", "write_audio": "audio_io",
    "Evaluation": "evaluation", "evaluate": "evaluation",
    "Cost": "settings", "Fit": "settings", "Output": "settings", "Settings": "settings",
    "STFTConfig": "settings", "ScoreModel": "settings",
    "Components": "modes", "Sources": "modes", "WithScore": "modes", "WithTemplates": "modes",
    "Note": "score", "Score": "score", "separate_with_score": "separation",
    "group": "grouping",
    "NMFResult": "nmf", "divergence": "nmf", "kl_divergence": "nmf", "nmf": "nmf",
    "Separation": "separation", "separate": "separation", "separate_as": "separation",
    "separate_sources": "separation", "separate_with_templates": "separation",
    "save": "pipeline", "separate_file": "pipeline", "separate_files": "pipeline",
    "Templates": "templates", "learn": "templates",
}  # fmt: skip
_SUBMODULES = ("alignment", "audio_io", "backend", "evaluation", "frontend", "grouping",
               "modes", "nmf", "outputs", "pipeline", "plot", "report", "score", "separation",
               "settings", "templates")  # fmt: skip

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from . import plot as plot
    from .audio_io import load, write_audio
    from .evaluation import Evaluation, evaluate
    from .grouping import group
    from .modes import Components, Sources, WithScore, WithTemplates
    from .nmf import NMFResult, divergence, kl_divergence, nmf
    from .pipeline import save, separate_file, separate_files
    from .score import Note, Score
    from .separation import (
        Separation,
        separate,
        separate_as,
        separate_sources,
        separate_with_score,
        separate_with_templates,
    )
    from .settings import Cost, Fit, Output, ScoreModel, Settings, STFTConfig
    from .templates import Templates, learn


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # found once, then an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE, *_SUBMODULES})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # Importing a submodule binds it on the package: `nmfaudio.nmf`, the
        # function, must not turn into the module `nmfaudio.nmf` on the way.
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "AudioFileError",
    "Components",
    "Cost",
    "Evaluation",
    "Fit",
    "NMFResult",
    "NmfaudioError",
    "Note",
    "Output",
    "ParameterError",
    "STFTConfig",
    "Score",
    "ScoreModel",
    "Separation",
    "Settings",
    "Sources",
    "Templates",
    "WithScore",
    "WithTemplates",
    "__version__",
    "divergence",
    "evaluate",
    "group",
    "kl_divergence",
    "learn",
    "load",
    "nmf",
    "save",
    "separate",
    "separate_as",
    "separate_file",
    "separate_files",
    "separate_sources",
    "separate_with_score",
    "separate_with_templates",
    "write_audio",
]
