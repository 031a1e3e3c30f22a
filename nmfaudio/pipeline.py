"""The pipeline from files to files: a recording in, its parts, pictures and report out.

:func:`separate_file` runs one recording: the front end reads it a block at a
time for the magnitude spectrogram (the only array that grows with the
duration, beside the activations), the NMF factorizes it, and the back end
reads it again a block at a time, masks every part's STFT and writes every
part's file a block at a time. :func:`separate_files` runs a collection,
locally in worker processes or on a Dask cluster. :func:`save` writes a
:class:`~nmfaudio.Separation` made from an array. The command line is a thin
layer over these.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import io
import itertools
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ._checks import positive_int
from ._kernels import limit_threads, usable_cores
from ._progress import stage
from ._version import __version__
from .audio_io import AudioWriter, BlockReader, duration, header_rate, load, streamable
from .backend import mean_of_streams, stream_components
from .exceptions import AudioFileError, NmfaudioError
from .frontend import read_spectrogram
from .modes import Components, Mode
from .outputs import (
    ALIGNED_SCORE,
    FIGURES,
    REPORT,
    FolderBusyError,
    check_outputs,
    is_complete,
    output_dir,
    owner,
    part_names,
    planned_files,
    read_manifest,
    remove_stale_stages,
    write_many,
)
from .report import check_reference, page, profiles
from .separation import Separation, announce, separate_as
from .settings import Output, Settings, given


def save(
    result: Separation,
    outdir: str | os.PathLike,
    *,
    output: Output | None = None,
    about: dict | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write one WAV file per source, or per component, into ``outdir``, all or nothing.

    Parameters
    ----------
    result : Separation
    outdir : str or path-like
        Created if missing.
    output : Output or None
        The files' encoding and what else to write: the components beside
        the sources, the pictures (``decomposition.png``, ``components.png``, see
        :mod:`nmfaudio.plot`), the listening report (``report.html``, see
        :mod:`nmfaudio.report`) and the references it scores; ``None``: the
        parts alone, as float WAV.
    about : dict or None
        More to record in the manifest (the input and the command, say).
    progress : bool
        Show a progress bar over the files.

    Every run writes ``outdir/nmfaudio.json``: the version, every setting
    (``result.settings.to_manifest()``), the final cost, ``about`` and the files
    written, with their sizes. A later run into the same folder replaces that
    set as a whole, so a folder never mixes two runs' outputs; files the
    manifest does not list (or that changed since) are never touched: a run
    they are in the way of is refused (see :mod:`nmfaudio.outputs`). A
    separation of a file (no ``X``) is made from the file, read a block at a
    time, every part's file written a block at a time.

    Returns
    -------
    list of Path
        The files written: sources, components, pictures, then the manifest.

    Examples
    --------
    >>> import tempfile, numpy as np, nmfaudio
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> result = nmfaudio.separate(y, 22050, 2)
    >>> [p.name for p in nmfaudio.save(result, tempfile.mkdtemp())]
    ['component_00.wav', 'component_01.wav', 'nmfaudio.json']
    """
    output = given("output", output, Output)
    components = output.components or result.sources is None
    sources = None if result.sources is None else list(result.sources)
    names = [
        name + output.suffix
        for name in part_names(sources, result.n_components, components=output.components)
    ]
    partitions: list[list[list[int]] | None] = []
    if result.sources is not None:
        partitions.append(list(result.sources.values()))
    if components:
        partitions.append(None)
    manifest = _manifest(result) | (about or {})
    # The pictures need the model, not the parts' files: drawn in a thread of their own
    # while the parts are made and written (10 minutes with --plot --report: 28.3 s, against
    # 31.4 s drawn after the parts; bench_plot.py).
    drawer = ThreadPoolExecutor(1)
    drawn = {kind: drawer.submit(_png, result, kind) for kind in output.plots * FIGURES}
    drawer.shutdown(wait=False)
    extras = [(f"{kind}.png", _written(png)) for kind, png in drawn.items()]
    if output.report:
        extras.append((REPORT, _report_writer(result, manifest, output)))
    if result.score is not None:
        extras.append((ALIGNED_SCORE, lambda path: result.score.to_midi(path)))
    # Each file beside the parts is a stage of its own, so a long one is seen as itself.
    extras = [(name, _as_stage(f"writing {name}", write, progress)) for name, write in extras]
    with stage(_PARTS_STAGE, len(names), "parts", enabled=progress and result.X is not None) as bar:
        if result.X is None:
            audio = [(tuple(names), _streamed_writer(result, partitions, output.subtype, progress))]
        else:
            signals = itertools.chain(
                result.iter_sources() if result.sources is not None else (),
                result.iter_components() if components else (),
            )
            audio = _counted(zip(names, signals, strict=True), bar)
        files = itertools.chain(audio, extras)
        return write_many(outdir, files, result.sr, subtype=output.subtype, manifest=manifest)


#: What making and writing the parts is called in the progress.
_PARTS_STAGE = "masks, inverse STFT, writing the parts"


def _counted(items, bar):
    for item in items:
        yield item
        bar.update()


def _as_stage(desc: str, write, progress: bool):
    def staged(path: Path) -> None:
        with stage(desc, 1, "file", enabled=progress) as bar:
            write(path)
            bar.update()

    return staged


def _manifest(result: Separation) -> dict:
    return {
        "nmfaudio": __version__,
        "sample_rate": result.sr,
        "channels": result.n_channels,
        "samples": result.length,
        **result.settings.to_manifest(),
        "separation": result.describe(),
        "n_components": result.n_components,
        "iterations": len(result.losses),
        "final_loss": float(result.losses[-1]) if len(result.losses) else None,
        "sources": result.sources,
        "profiles": profiles(result),
    }


def _streamed_writer(result: Separation, partitions, subtype: str | None, progress: bool):
    # With resolutions, each one's sources are streamed from a reader of its own, in step.
    names = list(result.sources or ())
    matched = [[[other.sources[name] for name in names]] for other in result.resolutions]

    def write(paths: list[Path]) -> None:
        writers: list[AudioWriter] = []
        try:
            for path in paths:
                writers.append(AudioWriter(path, result.sr, result.n_channels, subtype=subtype))
            with (
                contextlib.ExitStack() as readers,
                stage(
                    _PARTS_STAGE, result.length, "s of audio", enabled=progress, scale=1 / result.sr
                ) as bar,  # fmt: skip
            ):
                analyses = zip((result, *result.resolutions), (partitions, *matched), strict=True)
                streams = [
                    _stream(each, readers.enter_context(BlockReader(result.source)), parts)
                    for each, parts in analyses
                ]
                n_mean = len(names) if result.resolutions else 0
                for blocks in mean_of_streams(streams, n_mean):
                    for writer, block in zip(writers, blocks, strict=True):
                        writer.write(block)
                    bar.update(len(blocks[0]))
        finally:
            for writer in writers:
                writer.close()

    return write


def _stream(result: Separation, reader: BlockReader, partitions):
    return stream_components(
        reader.read, result.length, result.W, result.H, config=result.config,
        power=result.mask_power, partitions=partitions,
    )  # fmt: skip


def _png(result: Separation, kind: str) -> bytes:
    """One of the pictures of :mod:`nmfaudio.plot`, as the bytes of its PNG file."""
    from . import plot

    picture = io.BytesIO()
    getattr(plot, kind)(result).savefig(picture, dpi=100, format="png")
    return picture.getvalue()


def _written(png):
    """Write the file when its picture is drawn."""
    return lambda path: path.write_bytes(png.result())


def _report_writer(result: Separation, manifest: dict, output: Output):
    def write(path: Path) -> None:
        rows = [name + output.suffix for name in result.part_names()]
        text = page(path.parent, rows, manifest, result=result, reference=output.reference)
        path.write_text(text, "utf-8")

    return write


def separate_file(
    path: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    mode: Mode | None = None,
    settings: Settings | None = None,
    output: Output | None = None,
    sr: int | None = None,
    about: dict | None = None,
    keep: Sequence[str | os.PathLike] = (),
    progress: bool = False,
) -> Separation:
    """Separate one recording into files: what ``nmfaudio separate INPUT -o OUTDIR`` runs.

    Parameters
    ----------
    path : str or path-like
        The recording.
    outdir : str or path-like
        Where its parts go (see :func:`save`); created if missing, and held
        (no other run writes there) from before the work begins.
    mode : Components, Sources, WithTemplates, WithScore or ScoreBeside, or None
        The way of separating (see :mod:`nmfaudio.modes`); ``None``: 8 components.
    settings : Settings or None
        STFT, cost, fit and mask power (with templates, their STFT settings).
    output : Output or None
        What to write beside the parts, as in :func:`save`.
    sr : int or None
        Resample to this rate first (the templates' rate by default with
        templates). The file is then decoded whole; otherwise it is read a
        block at a time, twice, and memory does not grow with its duration
        beyond the spectrogram and the activations.
    about, progress
        As in :func:`save`; the manifest also records the input.
    keep : sequence of str or path-like
        Files the outputs must not replace, beside the input (the other inputs
        of a batch, say).

    Returns
    -------
    Separation
        Without ``X`` when the file was streamed (its parts are in ``outdir``).

    Raises
    ------
    NmfaudioError
        For a bad input or option (before any work where it can be known
        then), or outputs that would replace the input, or a file nmfaudio
        did not write (see :func:`nmfaudio.outputs.check_outputs`).

    Examples
    --------
    >>> import os, tempfile, numpy as np, nmfaudio
    >>> folder = tempfile.mkdtemp()
    >>> y = np.random.default_rng(0).standard_normal((2, 22050)).astype(np.float32)
    >>> nmfaudio.write_audio(os.path.join(folder, "song.wav"), 0.1 * y, 22050)
    >>> song, parts = os.path.join(folder, "song.wav"), os.path.join(folder, "parts")
    >>> result = nmfaudio.separate_file(song, parts, mode=nmfaudio.Components(2))
    >>> sorted(os.listdir(parts))
    ['component_00.wav', 'component_01.wav', 'nmfaudio.json']
    """
    path = Path(path)
    mode = (Components() if mode is None else mode).for_input(path)
    settings = given("settings", settings, Settings)
    output = given("output", output, Output)
    sr = sr or mode.sample_rate
    # The components written are the first analysis's (see Separation.resolutions).
    first = mode.analyses(settings)[0][0]
    parts = [name + output.suffix for name in first.part_names(components=output.components)]
    planned = planned_files(parts + mode.other_files(), plots=output.plots, report=output.report)
    if output.reference is not None:
        check_reference(output.reference, seconds=duration(path))
    # The folder is checked, created and held from here on: a bad one fails now,
    # not after the long part, and no other run writes there meanwhile.
    with output_dir(outdir) as held:
        check_outputs(held, planned, keep=[path, *keep])
        if streamable(path, sr):
            if progress:
                announce(str(path), mode)
            analyses = mode.analyses(settings, sr or header_rate(path))
            y = [read_spectrogram(path, config, progress=progress) for _, config in analyses]
            rate = y[0].sr
        else:  # resampled, or a format only librosa decodes: the samples, whole
            y, rate = load(path, sr=sr)
        result = separate_as(mode, y, rate, settings=settings, progress=progress)
        del y  # the back end needs only the STFT (or the file): free the samples
        recorded = {"input": str(path.resolve()), "request": request(mode, settings, output, sr)}
        save(result, outdir, output=output, about=recorded | (about or {}), progress=progress)
    return result


def request(mode: Mode, settings: Settings, output: Output, sr: int | None) -> dict:
    """What a run into a folder was asked for, as its manifest records it (JSON values): a
    batch counts a folder as done only for the same request (see :func:`separate_files`)."""
    asked = dataclasses.replace(settings, stft=mode.stft(settings))
    record = {
        "mode": mode.to_manifest(), "settings": asked.to_manifest(),
        "output": output.to_manifest(), "sr": sr or mode.sample_rate,
    }  # fmt: skip
    return json.loads(json.dumps(record))  # as read back: lists for tuples


def _asked_before(path: Path, outdir: Path, mode: Mode | None, settings, output, sr) -> bool:
    """Whether the finished separation in ``outdir`` was made with this request."""
    try:
        mode = (Components() if mode is None else mode).for_input(path)
        asked = request(
            mode, given("settings", settings, Settings), given("output", output, Output), sr
        )
    except NmfaudioError:  # its score is missing, say: the run will say so
        return False
    return (read_manifest(outdir) or {}).get("request") == asked


#: Extensions of the files a folder given to :func:`separate_files` is searched for.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".opus")


@dataclass
class BatchResult:
    """What :func:`separate_files` did, input by input.

    Attributes
    ----------
    done, skipped : list of (Path, Path)
        Inputs separated, or skipped because their folder was complete (for these
        settings), with their folder.
    redone : list of (Path, Path)
        Those of ``done`` whose folder held a finished separation made with other
        settings, which the new one replaced.
    busy : list of (Path, Path)
        Inputs whose folder another nmfaudio run was writing: left to that run.
    failed : list of (Path, str)
        Inputs that failed, with the error.
    """

    done: list[tuple[Path, Path]] = field(default_factory=list)
    skipped: list[tuple[Path, Path]] = field(default_factory=list)
    redone: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    busy: list[tuple[Path, Path]] = field(default_factory=list)

    def _repr_html_(self) -> str:
        """In Jupyter: each input, what became of it, and its folder or error."""
        from .notebook import batch_html

        return batch_html(self)

    def summary(self) -> str:
        busy = (
            f", {len(self.busy)} busy (another nmfaudio run is writing their folders)"
            if self.busy
            else ""
        )
        redone = (
            f" ({len(self.redone)} replacing results made with other settings)"
            if self.redone
            else ""
        )
        return (
            f"{len(self.done)} done{redone}, {len(self.skipped)} skipped{busy},"
            f" {len(self.failed)} failed"
        )


def collect_inputs(
    inputs: Sequence[str | os.PathLike], outroot: str | os.PathLike | None = None
) -> list[Path]:
    """Files, folders (searched recursively for :data:`AUDIO_EXTENSIONS`) and glob patterns,
    as a sorted list of files without repeats.

    What a folder or a pattern finds that an earlier run wrote (its folder's
    nmfaudio manifest lists it), or what a folder holds under ``outroot`` when
    ``outroot`` is inside it, is output, not input; a file named on its own is
    an input wherever it is.

    Raises
    ------
    AudioFileError
        An input that is none of these (a file that is not there), or a folder
        without audio files, or a pattern that matches nothing.
    """
    outputs = None if outroot is None else Path(os.path.realpath(outroot))

    @functools.cache
    def written(folder: Path) -> frozenset:
        """What the folder's manifest says an earlier run wrote there: read once a folder."""
        try:
            return frozenset((read_manifest(folder) or {}).get("files") or ())
        except AudioFileError:
            return frozenset()

    def is_output(path: Path, nested: Path | None = None) -> bool:
        real = Path(os.path.realpath(path))
        if nested is not None and real.is_relative_to(nested):
            return True
        return real.name in written(real.parent)

    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            inside, nested = Path(os.path.realpath(path)), None
            if outputs is not None and outputs != inside and outputs.is_relative_to(inside):
                nested = outputs  # -o inside the folder searched: all under it is output
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file() and not is_output(p, nested)
            )  # fmt: skip
            if not found:
                raise AudioFileError(f"{path}: no audio files in this folder")
            files += found
        elif path.exists():
            files.append(path)  # a file that is not audio is that file's failure, later
        elif not glob.has_magic(str(item)):
            raise AudioFileError(f"{item}: no such file")  # a typo: said before any work
        else:
            matches = sorted(Path(p) for p in glob.glob(str(item), recursive=True))
            matches = [p for p in matches if not is_output(p)]
            if not matches:
                raise AudioFileError(f"{item}: no file matches")
            files += matches
    unique = {os.path.abspath(p): p for p in files}
    return [unique[key] for key in sorted(unique)]


def output_folders(files: Sequence[Path], outroot: str | os.PathLike) -> list[Path]:
    """The folder of each input: ``outroot/<stem>``, or ``-2``, ``-3``, ... for a stem seen
    before. A folder whose nmfaudio manifest names an input stays that input's, whatever
    else appears later (a new file of the same stem gets a new number)."""
    outroot = Path(outroot)
    claimed: dict[Path, str] = {}  # folders the manifests give to inputs
    stems = {path.stem for path in files}
    if outroot.is_dir():
        for folder in outroot.iterdir():
            base, _, number = folder.name.rpartition("-")
            if folder.name in stems or (base in stems and number.isdigit()):
                name = owner(folder)
                if name is not None:
                    claimed[folder] = name
    mine = {name: folder for folder, name in claimed.items()}
    taken = set(claimed)
    folders = []
    for path in files:
        folder = mine.get(str(path.resolve()))
        count = 1
        while folder is None:
            candidate = outroot / (path.stem if count == 1 else f"{path.stem}-{count}")
            if candidate not in taken:
                folder = candidate
            count += 1
        taken.add(folder)
        folders.append(folder)
    return folders


def separate_files(
    inputs: Sequence[str | os.PathLike],
    outroot: str | os.PathLike,
    *,
    mode: Mode | None = None,
    settings: Settings | None = None,
    output: Output | None = None,
    sr: int | None = None,
    jobs: int | None = None,
    client=None,
    overwrite: bool = False,
    about: dict | None = None,
    progress: bool = False,
) -> BatchResult:
    """Separate a collection: each input into ``outroot/<input stem>/``.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Files, folders (searched recursively for audio files) and glob patterns
        (see :func:`collect_inputs`).
    outroot : str or path-like
        Where the folders go (see :func:`output_folders`).
    mode, settings, output, sr, about
        As in :func:`separate_file`, for every input.
    jobs : int or None
        Worker processes on this machine (``None``: 1, in this process); each
        gets an equal share of the cores for its threads, and ends when this
        process does, killed or not.
    client : dask.distributed.Client or None
        Run each input as a task on the cluster's workers instead (the paths
        must be readable and writable there, as on a shared file system).
    overwrite : bool
        Separate again inputs whose folder is already complete. By default an
        input whose folder holds its finished separation *with the same
        settings* (mode, STFT, cost, fit, output format and files, as the
        manifest records them) is skipped, so an interrupted batch resumes; a
        folder made with other settings is separated again, its files replaced
        (and counted in :attr:`BatchResult.redone`).
    progress : bool
        A progress bar over the inputs (and over each one's work, one at a time).

    Returns
    -------
    BatchResult
        One input's failure never stops the others: an error, a worker that
        died on it, or a folder another run holds is that input's alone. No
        outputs replace an input of the batch.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nmfaudio
    >>> album = tempfile.mkdtemp()
    >>> for name in ("a.wav", "b.wav"):
    ...     y = np.random.default_rng(len(name)).standard_normal(16000).astype(np.float32)
    ...     nmfaudio.write_audio(os.path.join(album, name), 0.1 * y, 16000)
    >>> out = os.path.join(tempfile.mkdtemp(), "separated")
    >>> batch = nmfaudio.separate_files([album], out, mode=nmfaudio.Components(2))
    >>> batch.summary()
    '2 done, 0 skipped, 0 failed'
    >>> nmfaudio.separate_files([album], out, mode=nmfaudio.Components(2)).summary()  # again
    '0 done, 2 skipped, 0 failed'
    """
    files = collect_inputs(inputs, outroot)
    made_root = not os.path.lexists(outroot)
    result = BatchResult()
    todo = []
    other_settings = set()
    for path, outdir in zip(files, output_folders(files, outroot), strict=True):
        if overwrite or not is_complete(path, outdir):
            todo.append((path, outdir))
        elif _asked_before(path, outdir, mode, settings, output, sr):
            remove_stale_stages(outdir)  # what a run killed while re-doing it left
            result.skipped.append((path, outdir))
        else:
            todo.append((path, outdir))
            other_settings.add(path)
    jobs = positive_int("jobs", jobs or 1)
    one_at_a_time = client is None and jobs == 1
    options = dict(
        mode=mode, settings=settings, output=output, sr=sr, about=about, keep=files,
        progress=progress and one_at_a_time,
    )  # fmt: skip
    files_stage = stage("files", len(todo), "files", enabled=progress and bool(todo), gathers=False)
    try:
        with files_stage as bar:
            for path, outdir, outcome in _run_all(todo, options, jobs, client):
                if outcome is None:
                    result.done.append((path, outdir))
                    if path in other_settings:
                        result.redone.append((path, outdir))
                elif outcome == _BUSY:  # compared by value: it may come from another process
                    result.busy.append((path, outdir))
                else:
                    result.failed.append((path, outcome))
                bar.update()
    finally:
        if made_root and os.path.isdir(outroot) and not any(Path(outroot).iterdir()):
            os.rmdir(outroot)  # interrupted before anything was written
    return result


#: What :func:`_separate_one` says of an input whose folder another run holds.
_BUSY = "busy"


def _separate_one(path: Path, outdir: Path, options: dict) -> tuple[Path, Path, str | None]:
    """One input of a batch: never raises for the input's own faults, says what they were
    (``None`` when it was done), in words that name the input."""
    global _IN_JOB
    _IN_JOB = True
    try:
        separate_file(path, outdir, **options)
    except FolderBusyError:
        return path, outdir, _BUSY
    except NmfaudioError as exc:
        return path, outdir, _naming(path, str(exc))
    except (OSError, MemoryError) as exc:
        return path, outdir, _naming(path, str(exc) or type(exc).__name__)
    except _StopWorker as stop:  # a worker told to stop: its stage was removed on the way
        os._exit(stop.status)
    finally:
        _IN_JOB = False
    return path, outdir, None


def _naming(path: Path, message: str) -> str:
    return message if str(path) in message else f"{path}: {message}"


def _run_all(todo, options, jobs, client) -> Iterator[tuple[Path, Path, str | None]]:
    if client is not None:
        yield from _run_on_cluster(todo, options, client)
    elif jobs == 1:
        for path, outdir in todo:
            yield _separate_one(path, outdir, options)
    else:
        yield from _run_in_workers(todo, options, jobs)


def _run_on_cluster(todo, options, client):
    from dask.distributed import as_completed

    futures = {
        client.submit(_separate_one, p, o, options, pure=False,
                      key=f"nmfaudio-{p.name}-{os.urandom(6).hex()}"): (p, o)
        for p, o in todo
    }  # fmt: skip
    try:
        for future in as_completed(futures):
            path, outdir = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # the task's worker died (KilledWorker), or was lost
                yield path, outdir, f"{path}: its worker died ({type(exc).__name__}: {exc})"
    finally:
        client.cancel(list(futures))


def _run_in_workers(todo, options, jobs):
    """Each input in a worker process of its own, ``jobs`` at a time: a worker that dies
    (killed, out of memory) fails only its input."""
    budget = max(1, usable_cores() // jobs)
    context = multiprocessing.get_context()
    waiting = list(reversed(todo))
    running: dict = {}  # a worker's result pipe: (its process, input, folder)
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                path, outdir = waiting.pop()
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_worker, args=(path, outdir, options, budget, send),
                    daemon=True,
                )  # fmt: skip
                process.start()
                send.close()
                running[receive] = (process, path, outdir)
            # A pipe is ready when its worker has sent its outcome, or has died (end of file).
            for receive in multiprocessing.connection.wait(list(running)):
                process, path, outdir = running.pop(receive)
                try:
                    outcome = receive.recv()
                except EOFError:  # it died before it could say anything
                    outcome = None
                receive.close()
                process.join()
                if outcome is None:
                    remove_stale_stages(outdir, pid=process.pid)
                    if outdir.is_dir() and not any(outdir.iterdir()):
                        outdir.rmdir()
                    outcome = path, outdir, f"{path}: its worker died ({_death(process.exitcode)})"
                yield outcome
    finally:  # interrupted: the running workers clean up and stop
        for process, _, _ in running.values():
            process.terminate()
        for process, _, _ in running.values():
            process.join()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return f"killed by {name}" + (", out of memory?" if name == "SIGKILL" else "")
    return f"exit status {exitcode}"


def _worker(path, outdir, options, budget, send) -> None:
    """A worker process: one input, its outcome sent back, then exit."""
    limit_threads(budget)
    # SIGTERM from the parent, or Ctrl-C at the terminal: unwind (a job's staging folder
    # is removed on the way) and exit quietly, in a job or idle.
    signal.signal(signal.SIGTERM, _stop_worker)
    signal.signal(signal.SIGINT, _stop_worker)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    send.send(_separate_one(path, outdir, options))
    send.close()


#: How often a worker looks whether its parent is still there, in seconds.
PARENT_CHECK_SECONDS = 0.5


def _watch_parent(parent: int) -> None:
    """A parent killed outright (SIGKILL) cannot stop its workers: each stops itself when
    it finds it has a new parent, as cleanly as when told to."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


#: Whether this worker process is separating an input (see :func:`_stop_worker`).
_IN_JOB = False


class _StopWorker(BaseException):
    """A worker's job is unwound by this, past any handler of ordinary errors."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _stop_worker(signum, frame) -> None:
    if _IN_JOB:
        raise _StopWorker(128 + signum)
    os._exit(128 + signum)  # idle: nothing to clean up
