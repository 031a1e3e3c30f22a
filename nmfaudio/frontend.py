"""Stage 1, the front end: signal -> complex STFT per channel -> magnitude spectrogram V.

In memory (:func:`stft`, :func:`magnitude`) or streamed from a file a block of
frames at a time (:func:`read_spectrogram`), the same values either way.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft

from ._progress import stage
from .audio_io import BlockReader, check_samples
from .exceptions import AudioFileError, ParameterError
from .settings import STFTConfig

#: Frames transformed at once by the forward and inverse STFT: bounded buffers,
#: large enough for efficient FFT calls.
FRAMES_PER_CHUNK = 2048


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
        The centred STFT of each channel, in librosa's shape.

    Raises
    ------
    AudioFileError
        The signal is shorter than one frame.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> from nmfaudio import STFTConfig
    >>> from nmfaudio.frontend import stft
    >>> stft(y[None], STFTConfig(n_fft=1024, hop_length=256)).shape  # (channels, bins, frames)
    (1, 513, 87)
    """
    config = config or STFTConfig()
    y = np.asarray(y)
    n_samples = check_length(y.shape[-1], config)
    real = np.result_type(y.dtype, np.float32)
    half = config.n_fft // 2
    padded = np.pad(y.astype(real, copy=False), [(0, 0)] * (y.ndim - 1) + [(half, half)])
    n_frames = config.n_frames(n_samples)
    out = np.empty((*y.shape[:-1], n_frames, config.n_freq), dtype=np.result_type(real, 1j))
    for t0, t1 in frame_blocks(n_frames, FRAMES_PER_CHUNK):  # no full copy of the framed signal
        start, stop = frame_span(t0, t1, config)
        out[..., t0:t1, :] = stft_frames(padded[..., start + half : stop + half], config)
    return np.swapaxes(out, -1, -2)


def frame_blocks(n_frames: int, size: int) -> Iterator[tuple[int, int]]:
    """Consecutive blocks of frames ``[t0, t1)`` of at most ``size``, tiling ``[0, n_frames)``:
    every stage that goes through a spectrogram a block at a time goes this way."""
    for t0 in range(0, n_frames, size):
        yield t0, min(t0 + size, n_frames)


def pooled_frames(values: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` consecutive frames (columns), the last group filled out with its
    last frame: a long feature sequence made short."""
    if factor <= 1:
        return values
    pad = -values.shape[1] % factor
    padded = np.pad(values, ((0, 0), (0, pad)), mode="edge")
    return padded.reshape(values.shape[0], -1, factor).mean(axis=2)


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


def segment_magnitude(segment: np.ndarray, config: STFTConfig) -> np.ndarray:
    """:func:`magnitude` of the STFT frames held in ``segment`` (``(n_channels, samples)``, as
    :func:`stft_frames` takes it): shape ``(n_freq, n_frames)``."""
    return magnitude(np.swapaxes(stft_frames(segment, config), -1, -2))


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

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio.frontend import magnitude
    >>> X = np.stack([np.full((3, 2), 3 + 4j), np.zeros((3, 2))])  # two channels, one silent
    >>> magnitude(X)  # the channels' RMS magnitude: sqrt((5**2 + 0) / 2)
    array([[3.53553391, 3.53553391],
           [3.53553391, 3.53553391],
           [3.53553391, 3.53553391]])
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ParameterError(f"X must have shape (n_channels, n_freq, n_frames), got {X.shape}")
    power = np.zeros_like(X[0], dtype=X.real.dtype)  # keeps X's layout
    for channel in X:  # one channel at a time keeps a single F x T temporary
        power += channel.real**2 + channel.imag**2
    power /= X.shape[0]
    return np.sqrt(power, out=power)


@dataclass(frozen=True)
class Spectrogram:
    """What the front end hands the NMF: the magnitude ``V`` and, unless streamed, the STFT.

    Attributes
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)] or None
        Magnitude of the channel mix (see :func:`magnitude`); a
        :class:`~nmfaudio.Separation` keeps it only without ``X``, of which it is
        the magnitude.
    X : np.ndarray [shape=(n_channels, n_freq, n_frames), complex] or None
        ``None`` when ``V`` was computed from a file a block at a time
        (:func:`read_spectrogram`): the back end reads the file again.
    sr, length, n_channels : int
        Sample rate, samples per channel and channels of the recording.
    config : STFTConfig
        The settings ``V`` (and ``X``) were computed with.
    source : Path or None
        The file, for a streamed spectrogram.
    flat : bool
        The recording was given as a 1-D array: its parts are given 1-D too.
    """

    V: np.ndarray
    X: np.ndarray | None
    sr: int
    length: int
    n_channels: int
    config: STFTConfig
    source: Path | None = None
    flat: bool = False


def spectrogram(y: np.ndarray, sr: int, config: STFTConfig) -> Spectrogram:
    """The STFT and magnitude of a checked signal ``(n_channels, n_samples)``, in memory.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> from nmfaudio import STFTConfig
    >>> from nmfaudio.frontend import spectrogram
    >>> spec = spectrogram(y[None], sr, STFTConfig())  # (n_channels, n_samples)
    >>> spec.V.shape, spec.X.shape, spec.length
    ((1025, 44), (1, 1025, 44), 22050)
    """
    X = stft(y, config)
    return Spectrogram(magnitude(X), X, sr, y.shape[-1], len(y), config)


#: Frames read and transformed at once by :func:`read_spectrogram`: its buffers (the
#: framed samples and their spectra) stay near 10 MB, and the FFTs are as fast.
FRAMES_PER_READ = 256


def read_spectrogram(
    path: str | os.PathLike, config: STFTConfig, *, progress: bool = False
) -> Spectrogram:
    """The magnitude spectrogram of an audio file, read and transformed a block at a time.

    The same values as ``magnitude(stft(load(path)[0], config))``, without
    holding the samples or the STFT: memory is the spectrogram's. The samples
    are checked as :func:`nmfaudio.load` checks them. With ``progress``, a bar
    over the seconds read (a line when stderr is not a terminal).

    Returns
    -------
    Spectrogram
        Without ``X``; ``source`` is ``path``.
    """
    path = Path(path)
    with BlockReader(path) as reader:
        n_samples = reader.frames
        if n_samples == 0:
            raise AudioFileError(f"{path}: contains no samples")
        check_length(n_samples, config)
        n_frames = config.n_frames(n_samples)
        Vt = np.empty((n_frames, config.n_freq), np.float32)  # frames as rows, as the NMF reads
        silent, done = True, 0
        with stage(
            "reading, STFT", n_samples, "s of audio", enabled=progress, scale=1 / reader.sr
        ) as bar:
            for t0, t1 in frame_blocks(n_frames, FRAMES_PER_READ):
                start, stop = frame_span(t0, t1, config)
                samples = reader.read(start, stop)
                check_samples(samples, f"{path}:")
                silent = silent and not samples.any()
                Vt[t0:t1] = segment_magnitude(samples, config).T
                reached = min(t1 * config.hop_length, n_samples)  # the samples read so far
                bar.update(reached - done)
                done = reached
        if reader.frames < n_samples:  # truncated: the frames of the samples there are
            reader.warn_if_truncated()
            n_samples = check_length(reader.frames, config)
            Vt = Vt[: config.n_frames(n_samples)]  # zeros past the end, as stft() pads
        warn_if_silent(silent)
        return Spectrogram(Vt.T, None, reader.sr, n_samples, reader.channels, config, path)


def warn_if_silent(silent: bool) -> None:
    """Say so when the whole recording is silent (its parts will be silent too)."""
    if silent:
        warnings.warn("the audio is silent: every component will be silent", stacklevel=4)
