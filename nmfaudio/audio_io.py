"""Reading and writing audio files: the I/O edge of the pipeline."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from .defaults import SUBTYPES
from .exceptions import AudioFileError, ParameterError

#: Sample encodings ``save`` accepts, as soundfile subtype names.

#: What a run writes beside its outputs: the settings and the list of its files.
MANIFEST = "nmfaudio.json"

#: Formats libsndfile does not read; librosa decodes them through ffmpeg (audioread).
NEEDS_FFMPEG = (".m4a", ".mp4", ".aac", ".wma", ".opus", ".webm", ".alac")


def load(path: str | os.PathLike, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file, keeping every channel.

    Parameters
    ----------
    path : str or path-like
        Any file soundfile reads (WAV, FLAC, OGG, MP3 with libsndfile >= 1.1);
        other formats are tried through ``librosa.load``.
    sr : int > 0 or None
        Resample to this rate. ``None`` keeps the file's own rate.

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
        infinite samples.
    """
    path = _check_path(path, sr)
    y, native_sr = _read(path)
    if not 0 < native_sr <= MAX_SAMPLE_RATE:
        raise AudioFileError(f"{path}: its header gives a sample rate of {native_sr} Hz")
    check_samples(y, f"{path}:")
    if sr is not None and sr != native_sr:
        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, axis=-1)
        native_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


def _check_path(path: str | os.PathLike, sr: int | None) -> Path:
    path = Path(path)
    if sr is not None and (not isinstance(sr, int | np.integer) or sr <= 0):
        raise ParameterError(f"sr must be a positive integer, got {sr!r}")
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
    path = _check_path(path, sr)
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError):
        return False
    return 0 < info.samplerate <= MAX_SAMPLE_RATE and sr in (None, info.samplerate)


def _read(path: Path) -> tuple[np.ndarray, int]:
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
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


#: Highest sample rate accepted from a file's header (libsndfile's own limit).
MAX_SAMPLE_RATE = 655_350

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


def check_subtype(subtype: str) -> str:
    """Return ``subtype`` upper-cased, or raise ParameterError if it is not in SUBTYPES."""
    upper = str(subtype).upper()
    if upper not in SUBTYPES:
        raise ParameterError(f"subtype must be one of {', '.join(SUBTYPES)}, got {subtype!r}")
    return upper


#: Output folders this process holds (see :func:`output_dir`), with how many times.
_HELD: dict[Path, int] = {}

#: Staging folders inside an output folder: ``.nmfaudio-<owner pid>-<random>.partial``.
_STAGE_PREFIX = ".nmfaudio-"
_STAGE_SUFFIX = ".partial"


@contextmanager
def output_dir(outdir: str | os.PathLike) -> Iterator[Path]:
    """Hold the folder ``outdir`` for one run; give its resolved path.

    The folder is created if missing (and removed again if the run leaves it
    empty) and probed for writing, so a bad destination is reported before
    any long computation. It is locked against other runs (another process
    holding it is refused with a message; this process may enter it again),
    and the staging folders that killed runs left in it are removed.

    Raises
    ------
    AudioFileError
        ``outdir`` is not a folder, cannot be written, or another run holds it.
    """
    outdir = Path(os.path.realpath(outdir))  # a link's target: staging and files go there
    if outdir in _HELD:
        _HELD[outdir] += 1
        try:
            yield outdir
        finally:
            _HELD[outdir] -= 1
        return
    if outdir.exists() and not outdir.is_dir():
        raise AudioFileError(f"{outdir}: exists and is not a directory")
    created = not outdir.exists()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=outdir)).rmdir()
        handle = os.open(outdir, os.O_RDONLY)
    except OSError as exc:
        raise AudioFileError(f"{outdir}: cannot write here ({exc.strerror or exc})") from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AudioFileError(
                f"{outdir}: another nmfaudio run is writing here; try again when it has finished"
            ) from None
        _remove_stale_stages(outdir)
        _HELD[outdir] = 1
        try:
            yield outdir
        finally:
            del _HELD[outdir]
    finally:
        os.close(handle)  # releases the lock
        if created and not any(outdir.iterdir()):
            outdir.rmdir()


def _remove_stale_stages(outdir: Path) -> None:
    """Remove the staging folders of runs that were killed (their owner is gone)."""
    for stage in outdir.glob(f"{_STAGE_PREFIX}*{_STAGE_SUFFIX}"):
        owner = stage.name.removeprefix(_STAGE_PREFIX).split("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(stage, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def staged_directory(outdir: str | os.PathLike) -> Iterator[Path]:
    """Give a staging folder inside ``outdir``; publish its files there on success.

    Files are written under a hidden staging folder first, on the destination's
    own file system, so a failure part-way leaves nothing half-written in
    ``outdir`` and publishing is a rename. On success each file is moved into
    ``outdir`` (created if missing) with an atomic rename, all or none: a
    target that is not a file stops the publishing before anything moved. When
    the stage holds a :data:`MANIFEST`, the set it publishes replaces an earlier
    one as a whole: the files that ``outdir``'s earlier manifest lists and this
    set lacks are removed (no other file is touched), and the manifest is moved
    in last. ``outdir`` is held (see :func:`output_dir`) meanwhile.
    """
    with output_dir(outdir) as outdir:
        prefix = f"{_STAGE_PREFIX}{os.getpid()}-"
        stage = Path(tempfile.mkdtemp(prefix=prefix, suffix=_STAGE_SUFFIX, dir=outdir))
        try:
            yield stage
            new = sorted(stage.iterdir(), key=lambda item: (item.name == MANIFEST, item.name))
            for item in new:
                target = outdir / item.name
                if target.exists() and not target.is_file():  # a folder, a FIFO, ...
                    raise AudioFileError(f"{target}: is in the way, and not a file: remove it")
            earlier = manifest_files(outdir) if (stage / MANIFEST).exists() else []
            for item in new:
                os.replace(item, outdir / item.name)
            for name in set(earlier) - {item.name for item in new}:
                (outdir / name).unlink(missing_ok=True)
        finally:
            shutil.rmtree(stage, ignore_errors=True)


def check_input_kept(source: str | os.PathLike, outdir: str | os.PathLike, names) -> None:
    """Refuse a run whose files, or the earlier set they replace, would take the input's place.

    ``names`` are the files the run will write into ``outdir``; the files an
    earlier manifest there lists are replaced or removed too. Compared as
    files (``os.path.samefile``), so another spelling or a hard link is caught.
    """
    outdir = Path(outdir)
    if not outdir.is_dir():
        return
    for name in sorted({*names, *manifest_files(outdir)}):
        target = outdir / name
        if target.exists() and os.path.samefile(target, source):
            raise AudioFileError(
                f"{source}: the outputs would replace this input ({target}): write them to"
                " another folder with -o"
            )


def manifest_files(outdir: str | os.PathLike) -> list[str]:
    """The files an earlier run wrote into ``outdir``, as its :data:`MANIFEST` lists them.

    Only plain file names count; a missing or unreadable manifest lists nothing.
    """
    try:
        files = json.loads((Path(outdir) / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(files, list):
        return []
    return [
        name for name in files
        if isinstance(name, str) and name not in ("", ".", "..", MANIFEST)
        and Path(name).name == name and "\\" not in name
    ]  # fmt: skip


def write_file(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Make the file ``path`` with ``write(temporary path)``, then rename it into place.

    A failure leaves no file behind, and never a half-written one at ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot write here ({exc.strerror or exc})") from exc
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def write_audio(path: str | os.PathLike, y: np.ndarray, sr: int, *, subtype: str = "FLOAT") -> None:
    """Write ``y`` (shape ``(n_channels, n_samples)``) to a WAV file.

    PCM subtypes cannot hold samples outside [-1, 1]: such samples are clipped
    and a ``UserWarning`` says by how much, so clipping is never silent.
    """
    y = np.atleast_2d(y)
    with WavWriter(path, sr, len(y), subtype=subtype) as writer:
        writer.write(y.T)  # interleaved; no copy for the back end's components


class WavWriter:
    """A WAV file written a block of frames at a time (see :func:`write_audio`).

    PCM subtypes clip samples outside [-1, 1]; closing warns once with the peak.
    """

    def __init__(self, path: str | os.PathLike, sr: int, channels: int, *, subtype: str = "FLOAT"):
        self.subtype = check_subtype(subtype)
        self.path = Path(path)
        self.peak = 0.0
        self._file = sf.SoundFile(path, "w", sr, channels, subtype=self.subtype, format="WAV")

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
                f" {self.subtype}; use --subtype FLOAT to keep it",
                UserWarning,
                stacklevel=3,
            )

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BlockReader:
    """An audio file read a span of samples at a time, every channel, as float32.

    ``read(start, stop)`` gives shape ``(channels, stop - start)``, with zeros
    outside the file (as the STFT's centred frames need at the edges).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = sf.SoundFile(self.path)
        self.sr, self.channels, self.frames = self._file.samplerate, self._file.channels, None
        self.frames = self._file.frames

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros((self.channels, stop - start), np.float32)
        first, last = max(start, 0), min(stop, self.frames)
        if last > first:
            try:
                self._file.seek(first)
                data = self._file.read(last - first, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioFileError(f"{self.path}: cannot be read ({exc})") from None
            out[:, first - start : first - start + len(data)] = data.T
        return out

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _why(exc: Exception, folder: Path) -> str:
    """A write error in words: libsndfile says only "System error." of a full disk."""
    reason = getattr(exc, "strerror", None) or str(exc).rstrip(".")
    if isinstance(exc, sf.LibsndfileError) or getattr(exc, "errno", None) in (
        errno.ENOSPC,
        errno.EFBIG,
    ):
        free = shutil.disk_usage(folder).free
        reason += f"; {free / 1e6:.0f} MB free there: is the disk full, or a file size limit set?"
    return reason


def write_many(
    outdir: str | os.PathLike,
    items: Iterable[tuple[str | tuple[str, ...], np.ndarray | Callable]],
    sr: int,
    *,
    subtype: str = "FLOAT",
    manifest: dict | None = None,
) -> list[Path]:
    """Write each ``(file name, content)`` of ``items`` into ``outdir``, all or nothing.

    A content is a signal, shape ``(n_channels, n_samples)``, written as WAV, or a
    function that writes the file at the path it is given (a figure, say); with a
    tuple of names, a function that writes those files at once, given their paths
    (parts made a block at a time, each block of every part in turn).
    ``items`` may be a generator, so contents are produced and written one at a
    time. With a ``manifest``, it is written as ``outdir/nmfaudio.json`` with
    the list of files added, and the set replaces the one an earlier manifest
    there lists (see :func:`staged_directory`). Returns the final paths, the
    manifest last.
    """
    subtype = check_subtype(subtype)
    outdir = Path(outdir)
    names: list[str] = []

    def write(name, content, stage):
        try:
            if isinstance(name, tuple):
                content([stage / each for each in name])
            elif callable(content):
                content(stage / name)
            else:
                write_audio(stage / name, content, sr, subtype=subtype)
        except (OSError, sf.LibsndfileError) as exc:
            shown = name[0] if isinstance(name, tuple) else name
            raise AudioFileError(f"{outdir / shown}: cannot write ({_why(exc, stage)})") from exc

    # Each file is written in the background while the next content is produced:
    # at most two contents are alive at once.
    with staged_directory(outdir) as stage, ThreadPoolExecutor(1) as writer:
        pending = None
        for name, content in items:
            if pending is not None:
                pending.result()
            pending = writer.submit(write, name, content, stage)
            names.extend(name if isinstance(name, tuple) else [name])
        if pending is not None:
            pending.result()
        if manifest is not None:
            text = json.dumps(manifest | {"files": names}, indent=2)
            (stage / MANIFEST).write_text(text + "\n", encoding="utf-8")
            names.append(MANIFEST)
    return [outdir / name for name in names]
