"""nmfaudio: separate music recordings into parts with KL-divergence NMF.

The pipeline has three stages, each a module you can use on its own:

1. :mod:`nmfaudio.frontend` -- STFT of every channel, magnitude spectrogram V.
2. :mod:`nmfaudio.nmf` -- V ~ W H under the generalized KL divergence.
3. :mod:`nmfaudio.backend` -- soft masks, inverse STFT, one signal per component.

:func:`separate` runs all three; :func:`load` reads audio files.
"""

__version__ = "0.1.0"

from .audio_io import load, write_audio
from .evaluation import Evaluation, evaluate
from .exceptions import AudioFileError, NmfaudioError, ParameterError
from .frontend import STFTConfig
from .nmf import NMFResult, kl_divergence, nmf
from .separation import Separation, separate

__all__ = [
    "AudioFileError",
    "Evaluation",
    "NMFResult",
    "NmfaudioError",
    "ParameterError",
    "STFTConfig",
    "Separation",
    "__version__",
    "evaluate",
    "kl_divergence",
    "load",
    "nmf",
    "separate",
    "write_audio",
]
