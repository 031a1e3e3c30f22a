"""Stage 1, the front end: signal -> complex STFT per channel -> magnitude spectrogram V."""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import scipy.fft

from ._checks import frame_length, hop
from .defaults import HOP_LENGTH, N_FFT
from .exceptions import AudioFileError, ParameterError

#: Frames transformed at once by the forward and inverse STFT: bounded buffers,
#: large enough for efficient FFT calls.
FRAMES_PER_CHUNK = 2048


@dataclass(frozen=True)
class STFTConfig:
    """Short-time Fourier transform settings shared by the front and back ends.

    Frames are centred (``center=True``, zero padding) as in ``librosa.stft``,
    so frame ``t`` is centred on sample ``t * hop_length``.
    """

    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    window: str = "hann"

    def __post_init__(self) -> None:
        frame_length(self.n_fft)
        hop(self.hop_length)
        if self.hop_length > self.n_fft:
            raise ParameterError(
                f"hop_length must be at most n_fft={self.n_fft}, got {self.hop_length}"
            )
        import scipy.signal  # here, not at import: it costs a second of start-up

        # The inverse STFT divides by the summed squared windows; it must not vanish.
        window = self.window_values(np.float64)
        if not scipy.signal.check_NOLA(window, self.n_fft, self.n_fft - self.hop_length):
            raise ParameterError(
                f"hop_length={self.hop_length} is too large for a {self.window} window of"
                f" n_fft={self.n_fft}: frames do not overlap enough to invert the STFT"
            )

    def window_values(self, dtype: np.dtype) -> np.ndarray:
        """The analysis (and synthesis) window, ``n_fft`` samples, periodic as for an FFT."""
        return librosa.filters.get_window(self.window, self.n_fft, fftbins=True).astype(dtype)

    @property
    def n_freq(self) -> int:
        """Number of frequency bins, ``1 + n_fft // 2``."""
        return 1 + self.n_fft // 2

    def n_frames(self, n_samples: int) -> int:
        """Number of STFT frames of a signal ``n_samples`` long."""
        return 1 + n_samples // self.hop_length


def check_length(n_samples: int, config: STFTConfig) -> int:
    """Return ``n_samples``; raise AudioFileError if that is shorter than one frame."""
    if n_samples < config.n_fft:
        raise AudioFileError(
            f"audio is {n_samples} samples long, shorter than one STFT frame"
            f" (n_fft={config.n_fft}); use a smaller --n-fft or a longer recording"
        )
    return n_samples


def stft(y: np.ndarray, config: STFTConfig | None = None) -> np.ndarray:
    """Complex STFT of every channel.

    The same values as ``librosa.stft(y, n_fft, hop_length, window, center=True)``
    (zero padding). In memory the frames are rows: the result is a transposed
    view of a ``(..., n_frames, n_freq)`` array, which every later stage reads
    frame by frame.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples)]
        Real signal, finite, at least ``config.n_fft`` samples long.
    config : STFTConfig or None
        STFT settings; ``None`` uses the defaults (n_fft 2048, hop 512, Hann).

    Returns
    -------
    X : np.ndarray [shape=(..., n_freq, n_frames), dtype=complex64 for float32 input]

    Raises
    ------
    AudioFileError
        The signal is shorter than one frame.
    """
    config = config or STFTConfig()
    y = np.asarray(y)
    n_samples = check_length(y.shape[-1], config)
    real = np.result_type(y.dtype, np.float32)
    half = config.n_fft // 2
    padded = np.pad(y.astype(real, copy=False), [(0, 0)] * (y.ndim - 1) + [(half, half)])
    n_frames = config.n_frames(n_samples)
    out = np.empty((*y.shape[:-1], n_frames, config.n_freq), dtype=np.result_type(real, 1j))
    for t0 in range(0, n_frames, FRAMES_PER_CHUNK):  # no full copy of the framed signal
        t1 = min(t0 + FRAMES_PER_CHUNK, n_frames)
        start, stop = frame_span(t0, t1, config)
        out[..., t0:t1, :] = stft_frames(padded[..., start + half : stop + half], config)
    return np.swapaxes(out, -1, -2)


def stft_frames(segment: np.ndarray, config: STFTConfig) -> np.ndarray:
    """The STFT frames held in ``segment``, frames as rows: shape ``(..., n_frames, n_freq)``.

    ``segment`` holds the samples of consecutive frames of the centred,
    zero-padded signal that :func:`stft` frames, ``(n_frames - 1) * hop + n_fft``
    of them (see :func:`frame_span`): frame for frame the same values as
    :func:`stft`, for a signal read a block at a time.
    """
    window = config.window_values(segment.dtype)
    frames = np.lib.stride_tricks.sliding_window_view(segment, config.n_fft, axis=-1)
    return scipy.fft.rfft(frames[..., :: config.hop_length, :] * window, axis=-1, workers=-1)


def frame_span(t0: int, t1: int, config: STFTConfig) -> tuple[int, int]:
    """Samples ``[start, stop)`` of the signal that frames ``t0..t1-1`` of :func:`stft` cover;
    ``start`` is negative and ``stop`` beyond the end where the frames reach the padding."""
    start = t0 * config.hop_length - config.n_fft // 2
    return start, start + (t1 - t0 - 1) * config.hop_length + config.n_fft


def magnitude(X: np.ndarray) -> np.ndarray:
    """Magnitude spectrogram of the channel mix.

    The channels are combined by root mean square of their magnitudes,
    ``V = sqrt(mean_c |X_c|^2)``: for mono this is ``|X|``, and unlike the STFT
    of a down-mix it does not let out-of-phase content cancel between channels.

    Parameters
    ----------
    X : np.ndarray [shape=(n_channels, n_freq, n_frames), complex]

    Returns
    -------
    V : np.ndarray [shape=(n_freq, n_frames), real, non-negative]
        In the memory layout of ``X[0]`` (frames as rows for :func:`stft` output).
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ParameterError(f"X must have shape (n_channels, n_freq, n_frames), got {X.shape}")
    power = np.zeros_like(X[0], dtype=X.real.dtype)  # keeps X's layout
    for channel in X:  # one channel at a time keeps a single F x T temporary
        power += channel.real**2 + channel.imag**2
    power /= X.shape[0]
    return np.sqrt(power, out=power)
