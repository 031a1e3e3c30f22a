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

import functools
import glob
import itertools
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ._checks import positive_int
from ._kernels import limit_threads, usable_cores
from ._version import __version__
from .audio_io import BlockReader, WavWriter, check_samples, load, streamable
from .backend import stream_components
from .defaults import COMPONENTS_PER_SOURCE, HOP_LENGTH, N_FFT, N_RESTARTS
from .exceptions import AudioFileError, NmfaudioError
from .frontend import STFTConfig, check_length, frame_span, magnitude, stft_frames
from .outputs import (
    FIGURES,
    MANIFEST,
    REPORT,
    FolderBusyError,
    check_outputs,
    is_complete,
    output_dir,
    owner,
    read_manifest,
    remove_stale_stages,
    write_many,
)
from .report import check_reference, page
from .separation import Separation, Spectrogram, warn_if_silent


def save(
    result: Separation,
    outdir: str | os.PathLike,
    *,
    subtype: str = "FLOAT",
    plots: bool = False,
    components: bool | None = None,
    report: bool = False,
    reference: str | os.PathLike | None = None,
    about: dict | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write one WAV file per source, or per component, into ``outdir``, all or nothing.

    Parameters
    ----------
    result : Separation
    outdir : str or path-like
        Created if missing.
    subtype : {"FLOAT", "PCM_16", "PCM_24"}
        Sample encoding; PCM subtypes warn when they clip.
    plots : bool
        Also write ``decomposition.png`` and ``components.png`` (see
        :mod:`nmfaudio.plot`).
    components : bool or None
        Write ``component_NN.wav`` files; ``None``: only when there are no
        sources. Sources are written as ``<name>.wav``.
    report : bool
        Also write ``report.html``, a page to hear and see the parts (see
        :mod:`nmfaudio.report`).
    reference : str or path-like or None
        With ``report``: a folder of the true parts, scored in the page.
    about : dict or None
        More to record in the manifest (the input and settings, say).
    progress : bool
        Show a progress bar over the files.

    Every run writes ``outdir/nmfaudio.json``: the version, the analysis
    settings, the final cost, ``about`` and the files written, with their
    sizes. A later run into the same folder replaces that set as a whole, so a
    folder never mixes two runs' outputs; files the manifest does not list (or
    that changed since) are never touched: a run they are in the way of is
    refused (see :mod:`nmfaudio.outputs`). A separation of a file (no ``X``)
    is made from the file, read a block at a time, every part's file written
    a block at a time.

    Returns
    -------
    list of Path
        The files written: sources, components, pictures, then the manifest.
    """
    if components is None:
        components = result.sources is None
    names: list[str] = []
    partitions: list[list[list[int]] | None] = []
    if result.sources is not None:
        names += [f"{name}.wav" for name in result.sources]
        partitions.append(list(result.sources.values()))
    if components:
        names += result.filenames()
        partitions.append(None)
    manifest = _manifest(result) | (about or {})
    extras = [(f"{kind}.png", _figure_writer(result, kind)) for kind in plots * FIGURES]
    if report:
        extras.append((REPORT, _report_writer(result, manifest, reference)))
    if result.X is None:
        audio = [(tuple(names), _streamed_writer(result, partitions, subtype))]
    else:
        signals = itertools.chain(
            result.iter_sources() if result.sources is not None else (),
            result.iter_components() if components else (),
        )
        audio = zip(names, signals, strict=True)
    files = tqdm(
        itertools.chain(audio, extras), total=len(names) + len(extras), desc="writing",
        unit="file", disable=not progress, leave=False,
    )  # fmt: skip
    return write_many(outdir, files, result.sr, subtype=subtype, manifest=manifest)


def _manifest(result: Separation) -> dict:
    return {
        "nmfaudio": __version__,
        "sample_rate": result.sr,
        "channels": result.n_channels,
        "samples": result.length,
        "n_fft": result.config.n_fft,
        "hop_length": result.config.hop_length,
        "mask_power": result.mask_power,
        "n_components": result.n_components,
        "beta": result.beta,
        "penalties": result.penalties,
        "iterations": len(result.losses),
        "final_loss": float(result.losses[-1]) if len(result.losses) else None,
        "sources": result.sources,
    }


def _streamed_writer(result: Separation, partitions, subtype: str):
    def write(paths: list[Path]) -> None:
        writers: list[WavWriter] = []
        try:
            for path in paths:
                writers.append(WavWriter(path, result.sr, result.n_channels, subtype=subtype))
            with BlockReader(result.source) as reader:
                for blocks in stream_components(
                    reader.read, result.length, result.W, result.H, config=result.config,
                    power=result.mask_power, partitions=partitions,
                ):  # fmt: skip
                    for writer, block in zip(writers, blocks, strict=True):
                        writer.write(block)
        finally:
            for writer in writers:
                writer.close()

    return write


def _figure_writer(result: Separation, kind: str):
    def write(path: Path) -> None:
        from . import plot

        getattr(plot, kind)(result).savefig(path, dpi=100, format="png")

    return write


def _report_writer(result: Separation, manifest: dict, reference):
    def write(path: Path) -> None:
        rows = [f"{name}.wav" for name in result.part_names()]
        text = page(path.parent, rows, manifest, result=result, reference=reference)
        path.write_text(text, "utf-8")

    return write


#: Frames read and transformed at once by :func:`read_spectrogram`: its buffers (the
#: framed samples and their spectra) stay near 10 MB, and the FFTs are as fast.
FRAMES_PER_READ = 256


def read_spectrogram(path: str | os.PathLike, config: STFTConfig) -> Spectrogram:
    """The magnitude spectrogram of an audio file, read and transformed a block at a time.

    The same values as ``magnitude(stft(load(path)[0], config))``, without
    holding the samples or the STFT: memory is the spectrogram's. The samples
    are checked as :func:`nmfaudio.load` checks them.

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
        silent = True
        for t0 in range(0, n_frames, FRAMES_PER_READ):
            t1 = min(t0 + FRAMES_PER_READ, n_frames)
            start, stop = frame_span(t0, t1, config)
            samples = reader.read(start, stop)
            check_samples(samples, f"{path}:")
            silent = silent and not samples.any()
            spectra = stft_frames(samples, config)  # (channels, frames, bins)
            Vt[t0:t1] = magnitude(np.swapaxes(spectra, -1, -2)).T
        if reader.frames < n_samples:  # truncated: the frames of the samples there are
            reader.warn_if_truncated()
            n_samples = check_length(reader.frames, config)
            Vt = Vt[: config.n_frames(n_samples)]  # zeros past the end, as stft() pads
        warn_if_silent(silent)
        return Spectrogram(Vt.T, None, reader.sr, n_samples, reader.channels, source=path)


def separate_file(
    path: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    n_components: int | None = None,
    n_sources: int | None = None,
    n_restarts: int = N_RESTARTS,
    templates: Sequence = (),
    n_extra: int = 0,
    adapt: bool = False,
    keep_components: bool = False,
    sr: int | None = None,
    n_fft: int | None = None,
    hop_length: int | None = None,
    subtype: str = "FLOAT",
    plots: bool = False,
    report: bool = False,
    reference: str | os.PathLike | None = None,
    about: dict | None = None,
    keep: Sequence[str | os.PathLike] = (),
    progress: bool = False,
    **options,
) -> Separation:
    """Separate one recording into files: what ``nmfaudio separate INPUT -o OUTDIR`` runs.

    Parameters
    ----------
    path : str or path-like
        The recording.
    outdir : str or path-like
        Where its parts go (see :func:`save`); created if missing, and held
        (no other run writes there) from before the work begins.
    n_components, n_sources, n_restarts
        Components (default 8), or ``n_sources`` sources blindly
        (:func:`nmfaudio.separate_sources`, ``n_components`` per restart).
    templates, n_extra, adapt
        Template sets (:class:`~nmfaudio.Templates` or their files): separate
        their instruments (:func:`nmfaudio.separate_with_templates`).
    keep_components : bool
        With sources or templates: write the components too.
    sr : int or None
        Resample to this rate first (the templates' rate by default with
        templates). The file is then decoded whole; otherwise it is read a
        block at a time, twice, and memory does not grow with its duration
        beyond the spectrogram and the activations.
    n_fft, hop_length : int or None
        STFT settings (default 2048 and 512; the templates' with templates).
    subtype, plots, report, reference, about, progress
        As in :func:`save`; ``about`` adds to the manifest, which records the input.
    keep : sequence of str or path-like
        Files the outputs must not replace, beside the input (the other inputs
        of a batch, say).
    **options
        Passed to the separation: ``n_iter``, ``tol``, ``mask_power``,
        ``beta``, ``sparsity``, ``continuity``, ``seed``.

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
    """
    from .grouping import separate_sources
    from .separation import separate, separate_with_templates
    from .templates import as_templates, check_compatible

    path = Path(path)
    templates = as_templates(templates)
    if templates:
        check_compatible(templates, templates[0].sr)  # among themselves, before reading audio
        sr = sr or templates[0].sr
        config = templates[0].config
    else:
        config = STFTConfig(n_fft=n_fft or N_FFT, hop_length=hop_length or HOP_LENGTH)
    planned = planned_files(
        n_components=n_components, n_sources=n_sources, n_restarts=n_restarts,
        templates=templates, n_extra=n_extra, keep_components=keep_components, plots=plots,
        report=report,
    )  # fmt: skip
    if report and reference is not None:
        check_reference(reference)
    # The folder is checked, created and held from here on: a bad one fails now,
    # not after the long part, and no other run writes there meanwhile.
    with output_dir(outdir) as held:
        check_outputs(held, planned, keep=[path, *keep])
        if streamable(path, sr):
            y = read_spectrogram(path, config)
            rate = y.sr
        else:  # resampled, or a format only librosa decodes: the samples, whole
            y, rate = load(path, sr=sr)
        common = dict(options, progress=progress)
        if templates:
            result = separate_with_templates(
                y, rate, templates, n_extra=n_extra, adapt=adapt, **common
            )
        elif n_sources:
            result = separate_sources(
                y, rate, n_sources, n_components=n_components, n_restarts=n_restarts,
                n_fft=config.n_fft, hop_length=config.hop_length, **common,
            )  # fmt: skip
        else:
            result = separate(
                y, rate, n_components or COMPONENTS_PER_SOURCE, n_fft=config.n_fft,
                hop_length=config.hop_length, **common,
            )  # fmt: skip
        del y  # the back end needs only the STFT (or the file): free the samples
        save(
            result, outdir, subtype=subtype, plots=plots,
            components=keep_components or None, report=report, reference=reference,
            about={"input": str(path.resolve())} | (about or {}), progress=progress,
        )  # fmt: skip
    return result


def planned_files(
    *, n_components=None, n_sources=None, n_restarts=N_RESTARTS, templates=(), n_extra=0,
    keep_components=False, plots=False, report=False,
) -> list[str]:  # fmt: skip
    """The names :func:`separate_file` will write into its folder, known before any work."""
    from .separation import numbered
    from .templates import REST

    if templates:
        names = [f"{t.name}.wav" for t in templates] + ([f"{REST}.wav"] if n_extra else [])
        n_components = templates[0].context * (sum(t.n_components for t in templates) + n_extra)
    elif n_sources:
        names = numbered("source", n_sources)
        n_components = n_restarts * (n_components or COMPONENTS_PER_SOURCE * n_sources)
    else:
        names, n_components = [], n_components or COMPONENTS_PER_SOURCE
    if keep_components or not (templates or n_sources):
        names += numbered("component", n_components)
    if plots:
        names += [f"{kind}.png" for kind in FIGURES]
    if report:
        names.append(REPORT)
    return [*names, MANIFEST]


#: Extensions of the files a folder given to :func:`separate_files` is searched for.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".opus")


@dataclass
class BatchResult:
    """What :func:`separate_files` did, input by input.

    Attributes
    ----------
    done, skipped : list of (Path, Path)
        Inputs separated, or skipped because their folder was complete, with their folder.
    busy : list of (Path, Path)
        Inputs whose folder another nmfaudio run was writing: left to that run.
    failed : list of (Path, str)
        Inputs that failed, with the error.
    """

    done: list[tuple[Path, Path]] = field(default_factory=list)
    skipped: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    busy: list[tuple[Path, Path]] = field(default_factory=list)

    def summary(self) -> str:
        busy = (
            f", {len(self.busy)} busy (another nmfaudio run is writing their folders)"
            if self.busy
            else ""
        )
        return (
            f"{len(self.done)} done, {len(self.skipped)} skipped{busy}, {len(self.failed)} failed"
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
        An input that is none of these, or a folder without audio files.
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
        elif path.exists() or not glob.has_magic(str(item)):
            files.append(path)  # a missing file is reported when it is separated
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
    jobs: int | None = None,
    client=None,
    overwrite: bool = False,
    progress: bool = False,
    **options,
) -> BatchResult:
    """Separate a collection: each input into ``outroot/<input stem>/``.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Files, folders (searched recursively for audio files) and glob patterns
        (see :func:`collect_inputs`).
    outroot : str or path-like
        Where the folders go (see :func:`output_folders`).
    jobs : int or None
        Worker processes on this machine (``None``: 1, in this process); each
        gets an equal share of the cores for its threads, and ends when this
        process does, killed or not.
    client : dask.distributed.Client or None
        Run each input as a task on the cluster's workers instead (the paths
        must be readable and writable there, as on a shared file system).
    overwrite : bool
        Separate again inputs whose folder is already complete (by default
        they are skipped, so an interrupted batch resumes).
    progress : bool
        A progress bar over the inputs (and over each one's work, one at a time).
    **options
        Passed to :func:`separate_file`.

    Returns
    -------
    BatchResult
        One input's failure never stops the others: an error, a worker that
        died on it, or a folder another run holds is that input's alone. No
        outputs replace an input of the batch.
    """
    files = collect_inputs(inputs, outroot)
    made_root = not os.path.lexists(outroot)
    result = BatchResult()
    todo = []
    for path, outdir in zip(files, output_folders(files, outroot), strict=True):
        if not overwrite and is_complete(path, outdir):
            remove_stale_stages(outdir)  # what a run killed while re-doing it left
            result.skipped.append((path, outdir))
        else:
            todo.append((path, outdir))
    jobs = positive_int("jobs", jobs or 1)
    one_at_a_time = client is None and jobs == 1
    options = dict(options, progress=progress and one_at_a_time, keep=files)
    bar = tqdm(total=len(todo), desc="files", unit="file", disable=not progress)
    try:
        with bar:
            for path, outdir, outcome in _run_all(todo, options, jobs, client):
                if outcome is None:
                    result.done.append((path, outdir))
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
