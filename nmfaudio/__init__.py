"""nmfaudio: separate music recordings into parts with KL-divergence NMF.

The pipeline has three stages, each a module you can use on its own:

1. :mod:`nmfaudio.frontend` -- STFT of every channel, magnitude spectrogram V.
2. :mod:`nmfaudio.nmf` -- V ~ W H under the generalized KL divergence.
3. :mod:`nmfaudio.backend` -- soft masks, inverse STFT, one signal per component.

:func:`separate` runs all three; :func:`group` gathers the components into
sources blindly, :func:`learn` and :func:`separate_with_templates` separate
instruments with templates learnt from isolated recordings, and
:func:`evaluate` scores sources against references. :func:`load` reads audio
files.
"""

__version__ = "0.1.0"

from .audio_io import load, write_audio
from .evaluation import Evaluation, evaluate
from .exceptions import AudioFileError, NmfaudioError, ParameterError
from .frontend import STFTConfig
from .grouping import group
from .nmf import NMFResult, kl_divergence, nmf
from .separation import Separation, separate, separate_with_templates
from .templates import Templates, learn

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
    "separate_with_templates",
    "write_audio",
]
