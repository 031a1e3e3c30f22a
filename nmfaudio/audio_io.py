"""Reading and writing audio files: the I/O edge of the pipeline."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from ._checks import audio_format, sample_rate, subtype_of, usable_rate
from .defaults import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from .exceptions import AudioFileError, ParameterError

#: Formats libsndfile does not read; librosa decodes them through ffmpeg (audioread).
NEEDS_FFMPEG = (".m4a", ".mp4", ".aac", ".wma", ".opus", ".webm", ".alac")


def load(path: str | os.PathLike, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file, keeping every channel.

    Parameters
    ----------
    path : str or path-like
        Any file soundfile reads (WAV, FLAC, OGG, MP3 with libsndfile >= 1.1);
        other formats are tried through ``librosa.load``.
    sr : int or None
        Resample to this rate, from 1000 to 655350 Hz (libsndfile's limit, so
        what nmfaudio writes it can read). ``None`` keeps the file's own rate.

    Returns
    -------
    y : np.ndarray [shape=(n_channels, n_samples), dtype=float32]
        The samples, one row per channel (mono files give one row).
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioFileError
        The file is missing, is not audio, holds no samples, or holds NaN or
        infinite samples, or its sample rate is outside that range.
    ParameterError
        ``sr`` is outside that range.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nmfaudio
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> nmfaudio.write_audio(path, np.zeros((2, 16000), np.float32), 16000)
    >>> y, sr = nmfaudio.load(path)
    >>> y.shape, y.dtype, sr
    ((2, 16000), dtype('float32'), 16000)
    """
    path = _check_path(path, sr)
    y, native_sr = _read(path)
    check_header_rate(native_sr, path)
    check_samples(y, f"{path}:")
    if sr is not None and sr != native_sr:
        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, axis=-1)
        native_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


def _check_path(path: str | os.PathLike, sr: int | None) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise ParameterError(f"expected the path of an audio file, got {type(path).__name__}")
    path = Path(path)
    if sr is not None:
        sample_rate("sr", sr)
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if not path.is_file():  # a FIFO or a device would block, or never end
        raise AudioFileError(f"{path}: not a regular file; give an audio file")
    return path


def streamable(path: str | os.PathLike, sr: int | None = None) -> bool:
    """Whether ``path`` can be read a block at a time at rate ``sr`` (``None``: its own):
    a file soundfile reads, with a plausible rate, and no resampling asked for.

    Raises the errors of :func:`load` for a path that is no file at all.
    """
    info = _header(_check_path(path, sr))
    return info is not None and usable_rate(info.samplerate) and sr in (None, info.samplerate)


def _header(path: str | os.PathLike):
    """soundfile's header of ``path``, or ``None`` where it cannot read one."""
    try:
        with _quiet_decoder(Path(path)):
            return sf.info(os.fsencode(path))
    except (sf.LibsndfileError, RuntimeError):
        return None


def duration(path: str | os.PathLike) -> float | None:
    """Seconds of audio in ``path`` by its header, without decoding it; ``None`` where
    soundfile cannot tell (a format only librosa decodes, or not audio)."""
    info = _header(path)
    return info.frames / info.samplerate if info and info.samplerate > 0 else None


def header_rate(path: str | os.PathLike) -> int | None:
    """The sample rate in ``path``'s header, without decoding it; ``None`` as :func:`duration`."""
    info = _header(path)
    return info.samplerate if info else None


def check_header_rate(sr: int, path: Path) -> None:
    """A file's own sample rate must be one nmfaudio works at."""
    if not usable_rate(sr):
        raise AudioFileError(
            f"{path}: its header gives a sample rate of {sr} Hz; nmfaudio reads"
            f" {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz"
        )


@contextmanager
def _quiet_decoder(path: Path) -> Iterator[None]:
    """libmpg123 prints its own warnings (a truncated file's, say) on the process's
    stderr; nmfaudio says what matters itself, so they are muted while MP3s are read."""
    if path.suffix.lower() != ".mp3":
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _warn_truncated(path: Path, promised: int, decoded: int) -> None:
    warnings.warn(
        f"{path}: truncated: its header promises {promised} samples but only {decoded}"
        " could be decoded; separating those",
        UserWarning,
        stacklevel=3,
    )


def _read(path: Path) -> tuple[np.ndarray, int]:
    try:
        with _quiet_decoder(path), sf.SoundFile(os.fsencode(path)) as file:
            promised, sr = file.frames, file.samplerate
            data = file.read(dtype="float32", always_2d=True)
        if 0 < len(data) < promised:
            _warn_truncated(path, promised, len(data))
        return data.T, sr
    except sf.LibsndfileError:
        pass
    # librosa reaches decoders soundfile lacks (audioread) where they are installed.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data, sr = librosa.load(path, sr=None, mono=False)
    except Exception as exc:
        suffix = path.suffix.lower()
        if suffix in NEEDS_FFMPEG and shutil.which("ffmpeg") is None:
            raise AudioFileError(
                f"{path}: reading {suffix} files needs ffmpeg, which is not installed"
                " (e.g. apt-get install ffmpeg); or convert the file to WAV or FLAC"
            ) from exc
        raise AudioFileError(
            f"{path}: not an audio file, or a format nmfaudio cannot read"
        ) from exc
    return np.atleast_2d(data), int(sr)


#: Largest sample magnitude analysed. Audio holds about +-1 (PCM read as float),
#: floats of a few hundred at most; far beyond, the spectrogram's products and
#: squared masks leave float32's range.
MAX_SAMPLE = 1e9


def check_samples(y: np.ndarray, what: str) -> None:
    """Raise AudioFileError unless ``y`` has samples, all finite and of audio magnitude.

    ``what`` starts the message: the file, or "the audio".
    """
    if y.shape[-1] == 0:
        raise AudioFileError(f"{what} contains no samples")
    peak = max(float(y.max()), -float(y.min()))  # NaN and inf carry through; no temporary
    if not np.isfinite(peak):
        raise AudioFileError(f"{what} contains NaN or infinite samples")
    if peak > MAX_SAMPLE:
        raise AudioFileError(
            f"{what} samples reach {peak:.3g}, far beyond audio levels (about 1): scale them down"
        )


def write_audio(
    path: str | os.PathLike, y: np.ndarray, sr: int, *, subtype: str | None = None
) -> None:
    """Write ``y`` (shape ``(n_channels, n_samples)``) to an audio file.

    The format is the suffix's: ``.wav``, ``.flac``, ``.ogg`` (Vorbis) or ``.mp3``
    (see :data:`~nmfaudio.defaults.FORMATS`); ``subtype`` one it takes, ``None``
    its default (float for WAV, 24-bit for FLAC). Encodings other than float
    cannot hold samples outside [-1, 1]: such samples are clipped and a
    ``UserWarning`` says by how much, so clipping is never silent.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> y = np.zeros((2, 8000), dtype=np.float32)
    >>> path = os.path.join(tempfile.mkdtemp(), "silence.flac")
    >>> write_audio(path, y, 8000)
    >>> sf.info(path).subtype, sf.info(path).channels
    ('PCM_24', 2)
    """
    y = np.atleast_2d(y)
    with AudioWriter(path, sr, len(y), subtype=subtype) as writer:
        writer.write(y.T)  # interleaved; no copy for the back end's components


class AudioWriter:
    """An audio file written a block of frames at a time (see :func:`write_audio`).

    Encodings other than float clip samples outside [-1, 1]; closing warns once
    with the peak.
    """

    def __init__(
        self, path: str | os.PathLike, sr: int, channels: int, *, subtype: str | None = None
    ):
        self.path = Path(path)
        self.format = audio_format(self.path.suffix)
        self.subtype = subtype_of(self.format, subtype)
        self.peak = 0.0
        sr = sample_rate("sample rate", sr)  # what nmfaudio writes, it reads back
        self._file = sf.SoundFile(
            os.fsencode(path), "w", sr, channels, subtype=self.subtype, format=self.format.upper()
        )

    def write(self, frames: np.ndarray) -> None:
        """Append ``frames``, shape ``(n_frames, channels)``."""
        frames = np.ascontiguousarray(frames)
        if self.subtype == "FLOAT":  # stored as is: skip libsndfile's per-sample conversion
            self._file.buffer_write(frames.astype(np.float32, copy=False), dtype="float32")
            return
        peak = float(np.max(np.abs(frames), initial=0.0))
        if peak > 1.0:
            self.peak = max(self.peak, peak)
            frames = np.clip(frames, -1.0, 1.0)
        self._file.write(frames)

    def close(self) -> None:
        self._file.close()
        if self.peak > 1.0:
            warnings.warn(
                f"{self.path.name}: peak {self.peak:.3f} exceeds 1.0 and is clipped in"
                f" {self.subtype}; use --format wav --subtype FLOAT to keep it",
                UserWarning,
                stacklevel=3,
            )

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def array_reader(y: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """``read(start, stop)`` of a signal in memory, ``(n_channels, n_samples)``, as
    :meth:`BlockReader.read` reads a file: float32, zeros outside the signal."""

    def read(start: int, stop: int) -> np.ndarray:
        out = np.zeros((len(y), stop - start), np.float32)
        first, last = max(start, 0), min(stop, y.shape[1])
        if last > first:
            out[:, first - start : last - start] = y[:, first:last]
        return out

    return read


class BlockReader:
    """An audio file read a span of samples at a time, every channel, as float32.

    ``read(start, stop)`` gives shape ``(channels, stop - start)``, with zeros
    outside the file (as the STFT's centred frames need at the edges).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        with _quiet_decoder(self.path):
            self._file = sf.SoundFile(os.fsencode(self.path))
        self.sr, self.channels = self._file.samplerate, self._file.channels
        #: Samples per channel: the header's count until a read finds the file ends sooner.
        self.frames = self.promised = self._file.frames

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros((self.channels, stop - start), np.float32)
        first, last = max(start, 0), min(stop, self.frames)
        if last > first:
            try:
                with _quiet_decoder(self.path):
                    self._file.seek(first)
                    data = self._file.read(last - first, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioFileError(f"{self.path}: cannot be read ({exc})") from None
            if len(data) < last - first:  # truncated: the decoder ends before the header
                self.frames = first + len(data)
            out[:, first - start : first - start + len(data)] = data.T
        return out

    def warn_if_truncated(self) -> None:
        """Say so if the file ended before its header's count (see :attr:`frames`)."""
        if self.frames < self.promised:
            _warn_truncated(self.path, self.promised, self.frames)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
