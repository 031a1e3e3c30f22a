"""Output folders: held by one run, written in a stage, published all or nothing, and
claimed by a manifest, so that nothing of the user's is ever replaced.

Every run into a folder writes ``nmfaudio.json`` there: the settings and the
files it wrote, with their sizes. That manifest is how nmfaudio shows a file is
its own: a later run may replace or remove only files it lists (and only while
they still have the size it records); any other file in the way is a reason
to refuse, before any work. Publishing is journalled: the manifest is first
replaced by one that claims the earlier and the new files and says the set is
incomplete, then the files are renamed into place, then the complete manifest
goes in last. A run killed at any point leaves either the earlier complete set,
or a folder whose manifest says it is incomplete (a batch redoes it) and
claims every file in it (so the redo may replace them).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import soundfile as sf

from ._version import __version__
from .audio_io import write_audio
from .defaults import FORMATS
from .exceptions import AudioFileError, ParameterError

#: What a run writes beside its outputs: the settings and the list of its files.
MANIFEST = "nmfaudio.json"
#: The listening report's file name.
REPORT = "report.html"
#: The pictures ``--plot`` writes, as ``<name>.png``.
FIGURES = ("decomposition", "components")

#: The score as a separation used it (aligned to the recording, unless told not to),
#: written beside its parts (MIDI).
ALIGNED_SCORE = "score_aligned.mid"
#: The source of the free components beside learnt templates (or a score): ``rest.wav``.
REST = "rest"
#: Suffixes of the audio files nmfaudio writes (see :class:`nmfaudio.Output`).
AUDIO_SUFFIXES = tuple(f".{name}" for name in FORMATS)


def numbered(prefix: str, count: int) -> list[str]:
    """``prefix_00``, ``prefix_01``, ... with wider numbers past 100: components' and blind
    sources' names."""
    width = max(2, len(str(count - 1)))
    return [f"{prefix}_{k:0{width}d}" for k in range(count)]


def part_names(sources: Sequence[str] | None, n_components: int, *, components: bool) -> list[str]:
    """The parts of a separation, as their files are named without the suffix: each source,
    then, without sources or when ``components`` are asked for, ``component_NN`` for each
    component."""
    names = list(sources or ())
    if sources is None or components:
        names += numbered("component", n_components)
    return names


def audio_parts(files: Sequence[str]) -> list[str]:
    """The names of audio files among ``files``, in their order."""
    return [name for name in files if Path(name).suffix.lower() in AUDIO_SUFFIXES]


def audio_files(folder: str | os.PathLike) -> list[Path]:
    """What ``folder`` holds named as the audio files nmfaudio writes are, sorted."""
    return sorted(p for p in Path(folder).iterdir() if audio_parts([p.name]))


def planned_files(parts: Sequence[str], *, plots: bool, report: bool) -> list[str]:
    """Every file a run writes into its folder: its parts, pictures, report and manifest."""
    return [*parts, *(f"{kind}.png" for kind in FIGURES if plots), *[REPORT] * report, MANIFEST]


#: Staging folders inside an output folder: ``.nmfaudio-<owner pid>-<random>.partial``.
_STAGE_PREFIX = ".nmfaudio-"
_STAGE_SUFFIX = ".partial"

#: Output folders this process holds (see :func:`output_dir`), with how many times.
_HELD: dict[Path, int] = {}


class FolderBusyError(AudioFileError):
    """Another nmfaudio run holds the output folder."""


#: The kinds of file nmfaudio writes beside its manifest: parts, pictures, the report.
_OUR_SUFFIXES = (*AUDIO_SUFFIXES, ".png", ".html", ".mid")


def _inside(name: object) -> bool:
    """Whether ``name`` names a file inside a folder: not a path, not the folder or its parent."""
    return (
        isinstance(name, str) and name not in ("", "..") and Path(name).name == name
        and "\\" not in name
    )  # fmt: skip


def _written_by_us(name: object) -> bool:
    """Whether a manifest may list ``name``: a plain file name of a kind nmfaudio writes."""
    return _inside(name) and name != MANIFEST and name.endswith(_OUR_SUFFIXES)


def read_manifest(outdir: str | os.PathLike) -> dict | None:
    """The manifest of ``outdir``, checked to be one nmfaudio wrote; ``None`` if there is none.

    Raises
    ------
    AudioFileError
        ``nmfaudio.json`` is there but is not nmfaudio's: unreadable, not a JSON
        object with nmfaudio's version, or listing files nmfaudio does not write.
    """
    path = Path(outdir) / MANIFEST
    if not os.path.lexists(path):
        return None

    def foreign(why: str) -> AudioFileError:
        return AudioFileError(
            f"{path}: not a manifest nmfaudio wrote ({why}); nothing there is replaced:"
            " move it away, or write to another folder with -o"
        )

    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise foreign(f"unreadable: {getattr(exc, 'strerror', None) or exc}") from None
    except (ValueError, RecursionError):
        raise foreign("not JSON, or nested too deeply") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("nmfaudio"), str):
        raise foreign("no nmfaudio version in it")
    files, sizes = manifest.get("files"), manifest.get("sizes", {})
    if not isinstance(files, list):
        raise foreign("no list of files in it")
    strange = [name for name in files if not _written_by_us(name)]
    if strange:
        raise foreign(f"it lists {strange[0]!r}, which nmfaudio does not write")
    if not isinstance(sizes, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in sizes.values()
    ):
        raise foreign("its sizes are not whole numbers")
    return manifest


def check_outputs(
    outdir: str | os.PathLike, names: Sequence[str], *, keep: Iterable[str | os.PathLike] = ()
) -> None:
    """Refuse a run into ``outdir`` that would lose a file that is not its own to replace.

    ``names`` are the files the run will write; the files the folder's earlier
    manifest lists are replaced or removed too. Each must be free, or listed by
    that manifest (nmfaudio wrote it) with the size it records (nobody changed
    it since), and none may be one of ``keep`` (the inputs: compared as files,
    so another spelling or a hard link is caught).

    Raises
    ------
    ParameterError
        Two of ``names`` are the same.
    AudioFileError
        A file in the way, a foreign manifest, or an input that would be replaced.
    """
    check_unique(names)
    outdir = Path(outdir)
    if outdir.is_dir():
        _check_targets(outdir, names, read_manifest(outdir), keep)


def _check_targets(outdir: Path, names, earlier: dict | None, keep=()) -> None:
    """:func:`check_outputs` for a folder whose manifest ``earlier`` was read already."""
    listed = earlier["files"] if earlier else []
    sizes = earlier.get("sizes", {}) if earlier else {}
    present = [name for name in sorted({*names, *listed} - {MANIFEST})
               if os.path.lexists(outdir / name)]  # fmt: skip
    inputs = _identities(keep) if present else {}
    for name in present:
        target = outdir / name
        source = inputs.get(_identity(target))
        if source is not None:
            raise AudioFileError(
                f"{source}: the outputs would replace this input ({target}): write them to"
                " another folder with -o"
            )
        if not target.is_file() or target.is_symlink():
            raise AudioFileError(f"{target}: is in the way, and not a file: remove it")
        if name not in listed:
            raise AudioFileError(
                f"{target}: is in the way, and nmfaudio did not write it ({MANIFEST} there does"
                " not list it): move it away, or write to another folder with -o"
            )
        if name in sizes and target.stat().st_size != sizes[name]:
            raise AudioFileError(
                f"{target}: has changed since nmfaudio wrote it: move it away to keep it,"
                " or delete it, and run again"
            )


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """What ``os.path.samefile`` compares: the device and inode a path leads to."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _identities(paths: Iterable[str | os.PathLike]) -> dict[tuple[int, int], Path]:
    """Each existing file of ``paths`` by its identity, each stat'ed once."""
    found = {}
    for path in paths:
        identity = _identity(path)
        if identity is not None:
            found.setdefault(identity, Path(path))
    return found


def check_unique(names: Iterable[str]) -> None:
    """Raise ParameterError if a file name comes twice among one run's outputs, or is not a
    plain name (one that could land outside the folder)."""
    seen: set[str] = set()
    for name in names:
        if not _inside(name):
            raise ParameterError(f"an output's name must name a file in its folder, got {name!r}")
        if name in seen:
            raise ParameterError(
                f"two of this run's parts would both be written as {name}: give them distinct"
                " names (a template set's, say, with 'nmfaudio learn --name')"
            )
        seen.add(name)


def is_complete(path: str | os.PathLike, outdir: str | os.PathLike) -> bool:
    """Whether ``outdir`` holds a finished separation of ``path``: a complete manifest of
    nmfaudio's names the input, and every file it lists is there with its recorded size."""
    try:
        manifest = read_manifest(outdir)
    except AudioFileError:
        return False
    if not manifest or manifest.get("complete", True) is not True:
        return False
    if manifest.get("input") != str(Path(path).resolve()) or not manifest["files"]:
        return False
    sizes = manifest.get("sizes", {})
    for name in manifest["files"]:
        target = Path(outdir) / name
        if not target.is_file() or (name in sizes and target.stat().st_size != sizes[name]):
            return False
    return True


def owner(outdir: str | os.PathLike) -> str | None:
    """The input a folder's nmfaudio manifest names, if any."""
    try:
        manifest = read_manifest(outdir)
    except AudioFileError:
        return None
    value = (manifest or {}).get("input")
    return value if isinstance(value, str) else None


@contextmanager
def output_dir(outdir: str | os.PathLike) -> Iterator[Path]:
    """Hold the folder ``outdir`` for one run; give its resolved path.

    The folder is created if missing (and removed again if the run leaves it
    empty) and probed for writing, so a bad destination is reported before
    any long computation. It is locked against other runs (another process
    holding it is refused with :class:`FolderBusyError`; this process may enter
    it again), and the staging folders that killed runs left in it are removed.

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
            raise FolderBusyError(
                f"{outdir}: another nmfaudio run is writing here; try again when it has finished"
            ) from None
        remove_stale_stages(outdir)
        _HELD[outdir] = 1
        try:
            yield outdir
        finally:
            del _HELD[outdir]
    finally:
        os.close(handle)  # releases the lock
        if created and not any(outdir.iterdir()):
            outdir.rmdir()


def remove_stale_stages(outdir: str | os.PathLike, *, pid: int | None = None) -> None:
    """Remove the staging folders of runs that were killed (their owner is gone), or those
    of the process ``pid``, known to be dead."""
    for stage in Path(outdir).glob(f"{_STAGE_PREFIX}*{_STAGE_SUFFIX}"):
        owner_pid = stage.name.removeprefix(_STAGE_PREFIX).split("-")[0]
        if owner_pid.isdigit() and (int(owner_pid) == pid or not _alive(int(owner_pid))):
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
def _stage(outdir: Path) -> Iterator[Path]:
    """A hidden staging folder inside ``outdir``, on its file system; removed afterwards."""
    prefix = f"{_STAGE_PREFIX}{os.getpid()}-"
    stage = Path(tempfile.mkdtemp(prefix=prefix, suffix=_STAGE_SUFFIX, dir=outdir))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _put_json(data: dict, stage: Path, target: Path) -> None:
    """Replace ``target`` with ``data`` as JSON, atomically (written in the stage first)."""
    temporary = stage / f".{target.name}.next"
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)


def publish(outdir: Path, stage: Path, manifest: dict) -> None:
    """Move the files of ``stage`` into ``outdir`` as the set ``manifest["files"]``.

    The set may keep files of the earlier set (listed there and not staged);
    files of the earlier set it lacks are removed. Journalled (see the module's
    notes): killed at any point, the folder is either the earlier set or marked
    incomplete, with every file in it claimed.
    """
    staged = sorted(p.name for p in stage.iterdir())
    files = list(manifest["files"])
    earlier = read_manifest(outdir) or {"files": [], "sizes": {}}
    old = earlier["files"]
    if any(name not in staged and name not in old for name in files):
        raise ParameterError("a manifest may only keep files the earlier one lists")
    _check_targets(outdir, staged, earlier)
    sizes = {name: (stage / name).stat().st_size for name in staged}
    sizes |= {name: earlier["sizes"][name] for name in files
              if name not in sizes and name in earlier.get("sizes", {})}  # fmt: skip
    journal = {
        "nmfaudio": __version__,
        "complete": False,
        "input": manifest.get("input"),
        "files": sorted({*old, *files}),
    }
    _put_json(journal, stage, outdir / MANIFEST)
    for name in staged:
        os.replace(stage / name, outdir / name)
    for name in set(old) - set(files):
        (outdir / name).unlink(missing_ok=True)
    final = {"nmfaudio": __version__} | {k: v for k, v in manifest.items() if k != "files"}
    _put_json(final | {"complete": True, "files": files, "sizes": sizes}, stage, outdir / MANIFEST)


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


def why(exc: Exception, folder: Path) -> str:
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
    items: Iterable[tuple[str | tuple[str, ...], object]],
    sr: int,
    *,
    subtype: str | None = None,
    manifest: dict | None = None,
) -> list[Path]:
    """Write each ``(file name, content)`` of ``items`` into ``outdir``, all or nothing.

    A content is a signal, shape ``(n_channels, n_samples)``, written in the format
    its name's suffix says, in ``subtype`` (``None``: the format's default), or a
    function that writes the file at the path it is given (a figure, say); with a
    tuple of names, a function that writes those files at once, given their paths
    (parts made a block at a time, each block of every part in turn).
    ``items`` may be a generator, so contents are produced and written one at a
    time. The set is published with ``manifest`` (and the files' names and
    sizes) as ``outdir/nmfaudio.json``, and replaces the set an earlier manifest
    there lists (see :func:`publish`). Returns the final paths, the manifest last.

    Raises
    ------
    ParameterError
        Two items have one name.
    AudioFileError
        A file cannot be written, or a file nmfaudio did not write is in the way.
    """
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
            raise AudioFileError(
                f"{Path(outdir) / shown}: cannot write ({why(exc, stage)})"
            ) from exc

    # Each file is written in the background while the next content is produced:
    # at most two contents are alive at once.
    with staged_output(outdir) as (held, stage), ThreadPoolExecutor(1) as writer:
        pending = None
        for name, content in items:
            batch = list(name) if isinstance(name, tuple) else [name]
            check_unique([*names, *batch])
            if pending is not None:
                pending.result()
            pending = writer.submit(write, name, content, stage)
            names.extend(batch)
        if pending is not None:
            pending.result()
        publish(held, stage, (manifest or {}) | {"files": names})
    return [Path(outdir) / name for name in [*names, MANIFEST]]


@contextmanager
def staged_output(outdir: str | os.PathLike) -> Iterator[tuple[Path, Path]]:
    """Hold ``outdir`` (see :func:`output_dir`) and give it with a fresh stage inside it."""
    with output_dir(outdir) as held, _stage(held) as stage:
        yield held, stage
