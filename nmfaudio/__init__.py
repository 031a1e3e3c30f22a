"""nmfaudio: separate music recordings into parts with non-negative matrix factorization.

The pipeline has three stages, each a module you can use on its own:

1. :mod:`nmfaudio.frontend` -- STFT of every channel, magnitude spectrogram V.
2. :mod:`nmfaudio.nmf` -- V ~ W H under a β-divergence (KL by default), with penalties.
3. :mod:`nmfaudio.backend` -- soft masks, inverse STFT, one signal per component.

:func:`separate` runs all three on an array and :func:`save` writes the parts;
:func:`separate_file` runs them from a file to files, a block at a time, and
:func:`separate_files` on collections (:mod:`nmfaudio.pipeline`);
:mod:`nmfaudio.report` writes a page to hear them. :func:`separate_sources` separates sources
blindly (the consensus of several factorizations, each grouped by
:func:`group`), :func:`learn` and :func:`separate_with_templates` separate
instruments with templates learnt from isolated recordings, and
:func:`evaluate` scores sources against references. :func:`load` reads audio
files.
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
    "STFTConfig": "frontend",
    "group": "grouping", "separate_sources": "grouping",
    "NMFResult": "nmf", "divergence": "nmf", "kl_divergence": "nmf", "nmf": "nmf",
    "Separation": "separation", "separate": "separation",
    "save": "pipeline", "separate_file": "pipeline", "separate_files": "pipeline",
    "separate_with_templates": "separation",
    "Templates": "templates", "learn": "templates",
}  # fmt: skip
_SUBMODULES = ("audio_io", "backend", "evaluation", "frontend", "grouping", "nmf", "pipeline",
               "plot", "report", "separation", "templates")  # fmt: skip

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from . import plot as plot
    from .audio_io import load, write_audio
    from .evaluation import Evaluation, evaluate
    from .frontend import STFTConfig
    from .grouping import group, separate_sources
    from .nmf import NMFResult, divergence, kl_divergence, nmf
    from .pipeline import save, separate_file, separate_files
    from .separation import Separation, separate, separate_with_templates
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
    "Evaluation",
    "NMFResult",
    "NmfaudioError",
    "ParameterError",
    "STFTConfig",
    "Separation",
    "Templates",
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
    "separate_file",
    "separate_files",
    "separate_sources",
    "separate_with_templates",
    "write_audio",
]
