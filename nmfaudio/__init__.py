"""nmfaudio: separate music recordings into parts with KL-divergence NMF.

The pipeline has three stages, each a module you can use on its own:

1. :mod:`nmfaudio.frontend` -- STFT of every channel, magnitude spectrogram V.
2. :mod:`nmfaudio.nmf` -- V ~ W H under the generalized KL divergence.
3. :mod:`nmfaudio.backend` -- soft masks, inverse STFT, one signal per component.

:func:`separate` runs all three; :func:`separate_sources` separates sources
blindly (the consensus of several factorizations, each grouped by
:func:`group`), :func:`learn` and :func:`separate_with_templates` separate
instruments with templates learnt from isolated recordings, and
:func:`evaluate` scores sources against references. :func:`load` reads audio
files.
"""

__version__ = "0.1.0"

from .audio_io import load, write_audio
from .evaluation import Evaluation, evaluate
from .exceptions import AudioFileError, NmfaudioError, ParameterError
from .frontend import STFTConfig
from .grouping import group, separate_sources
from .nmf import NMFResult, kl_divergence, nmf
from .separation import Separation, separate, separate_with_templates
from .templates import Templates, learn


def __getattr__(name: str):
    # The figures need matplotlib, slow to import: load them on first use, so that
    # ``nmfaudio.plot`` works after ``import nmfaudio`` without slowing every start.
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "evaluate",
    "group",
    "kl_divergence",
    "learn",
    "load",
    "nmf",
    "separate",
    "separate_sources",
    "separate_with_templates",
    "write_audio",
]
