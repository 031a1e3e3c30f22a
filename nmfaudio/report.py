"""A listening report: one self-contained page to hear and see a separation, ``report.html``.

The page sits beside the files it plays and refers to them by name, so the
folder can be moved or shared whole; it needs no network. Its pictures are
computed here, from the written files themselves (so a folder written earlier
gets the same page), pooled to at most :data:`COLUMNS` columns and
:data:`BANDS` log-frequency bands whatever the recording's length, and drawn
by the page on canvases. Its script (``report.js``, beside this module) plays
every part in sync from one transport, with solo and mute per part.

Entry points: ``nmfaudio separate ... --report`` (through
:func:`nmfaudio.save`), ``nmfaudio report OUTDIR`` and :func:`write`.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np
import scipy.fft
import soundfile as sf

from .audio_io import BlockReader, duration
from .exceptions import AudioFileError, NmfaudioError, ParameterError
from .frontend import frame_blocks, frame_span, pooled_frames
from .outputs import (
    ALIGNED_SCORE,
    MANIFEST,
    REPORT,
    audio_files,
    audio_parts,
    publish,
    read_manifest,
    staged_output,
)
from .plot import LOWEST_HZ, column_frames, log_bands, part_profiles
from .score import Score, pitch_hz
from .settings import Settings, STFTConfig

#: Most columns of a picture: about the pixels a row's picture fills.
COLUMNS = 400
#: Log-frequency bands of a picture, from ``nmfaudio.plot.LOWEST_HZ`` to the Nyquist frequency.
BANDS = 96
#: dB range of the pictures, below the mixture's loudest band.
RANGE_DB = 80.0


def write(
    outdir: str | os.PathLike,
    *,
    result=None,
    reference: str | os.PathLike | None = None,
) -> Path:
    """Write ``outdir/report.html`` for the separation written in ``outdir``.

    Parameters
    ----------
    outdir : str or path-like
        A folder written by ``nmfaudio separate`` or :func:`nmfaudio.save`
        (its ``nmfaudio.json`` says which files are the parts).
    result : Separation or None
        The separation itself, when at hand: the page then also shows each
        part's template and activation.
    reference : str or path-like or None
        A folder of the true parts: the page then shows the BSS Eval scores
        (:func:`nmfaudio.evaluation.evaluate_dirs`).

    Returns
    -------
    Path
        The page. Its name is added to the folder's manifest, so that a later
        run into the folder replaces it with the rest.

    Raises
    ------
    AudioFileError
        The folder holds no separation, or cannot be written.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nmfaudio
    >>> from nmfaudio import report
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> folder = os.path.join(tempfile.mkdtemp(), "parts")
    >>> _ = nmfaudio.save(nmfaudio.separate(0.1 * y, 22050, 2), folder)
    >>> report.write(folder).name  # beside the parts it plays
    'report.html'
    """
    outdir = Path(outdir)
    if reference is not None:
        check_reference(reference, seconds=_recorded_seconds(outdir))
    _read_manifest(outdir)  # a folder with no separation fails before it is held
    with staged_output(outdir) as (held, stage):
        manifest = _read_manifest(held)
        rows = played_files(manifest)
        missing = [name for name in rows if not (held / name).is_file()]
        if missing:
            raise AudioFileError(f"{outdir / missing[0]}: listed in {MANIFEST} but missing")
        text = page(held, rows, manifest, result=result, reference=reference)
        (stage / REPORT).write_text(text, "utf-8")
        files = manifest["files"] + [REPORT] * (REPORT not in manifest["files"])
        publish(held, stage, manifest | {"files": files})
    return outdir / REPORT


def check_reference(folder: str | os.PathLike, *, seconds: float | None = None) -> None:
    """What can be known of a reference folder before the long part: it holds readable WAV
    files, all of one length, and (``seconds`` given) as long as the input.

    Rates may differ from the input's: the references are resampled to the
    estimates' rate for scoring (see :func:`nmfaudio.evaluation.evaluate_dirs`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioFileError(
            f"{folder}: --reference must be a folder of the true parts' audio files"
        )
    paths = [path for path in audio_files(folder) if path.stem != "mixture"]
    if not paths:
        raise AudioFileError(f"{folder}: no audio files to score against (--reference)")
    lengths = {}
    for path in paths:
        length = duration(path)
        if length is None:
            raise AudioFileError(f"{path}: not an audio file that can be read (--reference)")
        lengths[path.name] = length
    shortest, longest = min(lengths, key=lengths.get), max(lengths, key=lengths.get)
    if lengths[longest] - lengths[shortest] > _SAME_SECONDS:
        raise AudioFileError(
            f"{folder}: the references differ in length ({shortest} {lengths[shortest]:.3f} s,"
            f" {longest} {lengths[longest]:.3f} s); --reference needs the true parts of this input"
        )
    if seconds is not None and abs(lengths[longest] - seconds) > _SAME_SECONDS:
        raise AudioFileError(
            f"{folder}: the references are {lengths[longest]:.3f} s long but the input"
            f" {seconds:.3f} s; --reference needs the true parts of this input"
        )


#: Lengths closer than this, in seconds, are the same (what resampling rounds off).
_SAME_SECONDS = 2e-3


def played_files(manifest: dict) -> list[str]:
    """The files the page plays: the sources, else the components, as the manifest lists them."""
    audio = {Path(name).stem: name for name in audio_parts(manifest["files"])}
    if manifest.get("sources"):
        return [audio[name] for name in manifest["sources"] if name in audio]
    return [name for stem, name in audio.items() if stem.startswith("component_")]


def page(folder: Path, rows: list[str], manifest: dict, *, result=None, reference=None) -> str:
    """The report's HTML for the parts ``rows`` (audio files in ``folder``), with the settings
    the folder's ``manifest`` records."""
    try:
        settings = Settings.from_manifest(manifest)
    except (ParameterError, TypeError):
        raise AudioFileError(f"{folder / MANIFEST}: its settings are not nmfaudio's") from None
    pictures = _Pictures(settings.stft)
    if not rows:
        raise AudioFileError(f"{folder}: no parts to report")
    info, magnitudes, levels = pictures.of_parts([folder / name for name in rows])
    mixture_magnitude, mixture_level = magnitudes.pop(), levels.pop()  # the parts' sum
    reference_level = float(mixture_magnitude.max(initial=0)) or 1.0
    parts = [
        {"name": Path(name).stem, "file": name, "level": level,
         "spectrogram": _quantised(magnitude, reference_level)}
        for name, magnitude, level in zip(rows, magnitudes, levels, strict=True)
    ]  # fmt: skip
    score = _score_of(folder, manifest, result)
    if score is not None:
        edges = pictures.edges(info["sr"])
        duration = info["samples"] / info["sr"]
        for part in parts:
            if part["name"] in score.instruments:
                part["notes"] = _notes(score.of(part["name"]), edges, duration)
    drawn = profiles(result) if result is not None else manifest.get("profiles") or {}
    for part in parts:
        if isinstance(drawn.get(part["name"]), dict):
            part.update(drawn[part["name"]])
    data = {
        "title": Path(str(manifest.get("input") or folder.name)).name,
        "settings": _settings_table(manifest, settings, info, len(parts)),
        "duration": info["samples"] / info["sr"],
        "bands": BANDS,
        "bandEdgesHz": [round(f, 1) for f in pictures.edges(info["sr"])],
        "mixture": {
            "spectrogram": _quantised(mixture_magnitude, reference_level),
            "level": mixture_level,
        },
        "rows": parts,
        "evaluation": _evaluation(reference, folder, rows) if reference is not None else None,
    }
    assets = resources.files(__package__)
    return Template(assets.joinpath("report.html").read_text("utf-8")).substitute(
        title=html.escape(f"nmfaudio: {data['title']}"),
        css=assets.joinpath("report.css").read_text("utf-8"),
        data=embedded_json(data),
        script=assets.joinpath("report.js").read_text("utf-8"),
    )


def profiles(result) -> dict[str, dict[str, list[float]]]:
    """What the page draws of each part's model, as small as the page draws it: its template
    in :data:`BANDS` bands and its activation in at most :data:`COLUMNS` columns, each
    scaled to a peak of 1. Kept in the manifest, so a page rewritten later has them too."""
    names, spectra, activations = part_profiles(result)
    pictures = _Pictures(result.config)
    drawn = {}
    for name, spectrum, activation in zip(names, spectra.T, activations, strict=True):
        factor = math.ceil(activation.size / COLUMNS)  # at most COLUMNS columns
        drawn[name] = {
            "template": _unit(pictures.bands(spectrum[:, None], result.sr)[:, 0]),
            "activation": _unit(pooled_frames(activation[None], factor)[0]),
        }
    return drawn


def _score_of(folder: Path, manifest: dict, result):
    """The score a separation used: the result's, else the one written beside the parts."""
    if result is not None:
        return result.score
    if ALIGNED_SCORE in manifest.get("files", ()):
        try:
            return Score.from_midi(folder / ALIGNED_SCORE)
        except NmfaudioError:
            return None  # the page is drawn without the notes
    return None


def _notes(notes, edges: np.ndarray, duration: float) -> list[list[float]]:
    """Each note as ``[start, end, band]``, times as fractions of the recording, the band of
    its fundamental (-1 for a drum hit), for the page to draw over the spectrogram."""
    out = []
    for note in notes:
        if note.pitch < 0:
            continue
        band = -1
        if not note.is_drum:
            band = int(np.clip(np.searchsorted(edges, pitch_hz(note.pitch)) - 1, 0, BANDS - 1))
        out.append([round(note.start / duration, 5), round(min(note.end / duration, 1.0), 5), band])
    return out


def embedded_json(data) -> str:
    """``data`` as JSON to stand inside a ``<script>`` element: every ``<``, ``>`` and ``&``
    escaped, so no name (``</script>``, ``<!--<script>``, ...) can end or hide the script."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Pictures:
    """Pooled magnitude spectrograms on a log-frequency axis, computed a column at a time."""

    def __init__(self, config: STFTConfig):
        self.config = config

    def edges(self, sr: int) -> np.ndarray:
        return np.geomspace(LOWEST_HZ, sr / 2, BANDS + 1)

    def bands(self, spectra: np.ndarray, sr: int) -> np.ndarray:
        """Mean of each band's bins, shape ``(BANDS, n_columns)`` (see :func:`log_bands`)."""
        return log_bands(spectra, self.edges(sr), sr, self.config.n_fft)

    def of_parts(self, paths: list[Path]) -> tuple[dict, list[np.ndarray], list[float | None]]:
        """The pictures and levels of the parts' files and of their sum, the mixture, in
        one pass over the files a column at a time.

        A picture is the mean ``|STFT|`` of the channel mix (as
        :func:`nmfaudio.frontend.stft` frames it) over each column's frames, in
        bands: shape ``(BANDS, n_columns)``, at most :data:`COLUMNS` columns; a
        column of a long file is the mean over 16 of its frames, evenly spaced
        (:func:`nmfaudio.plot.column_frames`), not over all of them (a 10-minute file's column
        spans 128 frames: every one of them cost 8 times the time for the same
        picture). Levels are over every sample (see :func:`level_db`); memory is
        a column's samples, whatever the duration.

        Returns
        -------
        dict
            ``sr``, ``channels``, ``samples`` of the parts.
        list of np.ndarray
            Each part's picture, then the mixture's.
        list of float or None
            Each part's level, then the mixture's.
        """
        config = self.config
        readers = [_open(path) for path in paths]
        try:
            first = readers[0]
            for reader in readers[1:]:
                if (reader.sr, reader.channels, reader.frames) != (first.sr, first.channels,
                                                                   first.frames):  # fmt: skip
                    raise AudioFileError(
                        f"{reader.path}: not the rate, channels and length of {first.path.name}"
                    )
            n_samples = first.frames
            n_frames = config.n_frames(n_samples)
            factor = max(1, math.ceil(n_frames / COLUMNS))
            columns = [[] for _ in range(len(readers) + 1)]
            power = np.zeros(len(readers) + 1)
            for t0, t1 in frame_blocks(n_frames, factor):
                picked = column_frames(t0, t1)
                start, stop = frame_span(t0, t1, config)
                # The samples this column owns for the levels: the columns tile the file.
                own = slice(t0 * config.hop_length - start,
                            min(t1 * config.hop_length, n_samples) - start)  # fmt: skip
                mixture = None
                for k, reader in enumerate(readers):
                    samples = reader.read(start, stop)
                    mixture = samples if mixture is None else mixture + samples
                    columns[k].append(self._column(samples.mean(axis=0), picked - t0))
                    power[k] += np.sum(np.square(samples[:, own], dtype=np.float64))
                columns[-1].append(self._column(mixture.mean(axis=0), picked - t0))
                power[-1] += np.sum(np.square(mixture[:, own], dtype=np.float64))
        finally:
            for reader in readers:
                reader.close()
        info = {"sr": first.sr, "channels": first.channels, "samples": n_samples}
        pictures = [self.bands(np.array(column).T, first.sr) for column in columns]
        count = n_samples * first.channels
        levels = [level_db(total / count if count else 0.0) for total in power]
        return info, pictures, levels

    def _column(self, y: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Mean ``|STFT|`` over the given frames of ``y``, the samples from the first frame's
        start (frame ``t`` starts at ``t * hop``)."""
        hop, n_fft = self.config.hop_length, self.config.n_fft
        chosen = np.stack([y[t * hop : t * hop + n_fft] for t in frames.astype(int)])
        spectra = scipy.fft.rfft(chosen * self.config.window_values(chosen.dtype), axis=-1)
        return np.abs(spectra).mean(axis=0)


def _quantised(magnitude: np.ndarray, reference: float) -> dict:
    """dB below ``reference``, ``RANGE_DB`` to 0 mapped to 0-255, row-major, base64."""
    db = 20 * np.log10(np.maximum(magnitude / reference, 1e-12))
    levels = np.clip((db + RANGE_DB) / RANGE_DB * 255, 0, 255).round().astype(np.uint8)
    return {
        "columns": magnitude.shape[1],
        "bytes": base64.b64encode(levels.tobytes()).decode("ascii"),
    }


def _unit(values: np.ndarray) -> list[float]:
    """Scaled to a maximum of 1, rounded: the page draws shapes, not values."""
    peak = float(np.max(values, initial=0))
    return [round(float(v), 4) for v in (values / peak if peak > 0 else values)]


def level_db(power: float) -> float | None:
    """A mean square over every sample and channel as an RMS level in dB below full scale;
    None when silent."""
    return round(10 * math.log10(power), 1) if power > 0 else None


def _open(path: Path) -> BlockReader:
    try:
        return BlockReader(path)
    except (OSError, sf.LibsndfileError) as exc:
        raise AudioFileError(f"{path}: cannot be read ({exc})") from None


def _recorded_seconds(outdir: Path) -> float | None:
    """The input's duration a folder's manifest records, if it can be read."""
    try:
        manifest = read_manifest(outdir) if outdir.is_dir() else None
    except AudioFileError:
        return None
    samples, rate = (manifest or {}).get("samples"), (manifest or {}).get("sample_rate")
    known = isinstance(samples, int) and isinstance(rate, int) and rate > 0
    return samples / rate if known else None


def _read_manifest(outdir: Path) -> dict:
    if not outdir.is_dir():
        raise AudioFileError(f"{outdir}: no such folder")
    manifest = read_manifest(outdir)
    if manifest is None:
        raise AudioFileError(
            f"{outdir}: no nmfaudio outputs here (no {MANIFEST}): run 'nmfaudio separate' first"
        )
    if manifest.get("complete", True) is not True:
        raise AudioFileError(
            f"{outdir}: a run into this folder did not finish: run 'nmfaudio separate' again"
        )
    sources = manifest.get("sources")
    stems = {Path(name).stem for name in audio_parts(manifest["files"])}
    if sources is not None and not all(name in stems for name in sources):
        raise AudioFileError(f"{outdir / MANIFEST}: its sources are not among its files")
    if not played_files(manifest):
        raise AudioFileError(f"{outdir}: the manifest lists no audio parts")
    return manifest


def _settings_table(manifest: dict, settings: Settings, info: dict, n_rows: int) -> list[list[str]]:
    seconds = info["samples"] / info["sr"]
    command = manifest.get("command")
    final = manifest.get("final_loss")
    fit = settings.fit
    return [
        ["input", str(manifest.get("input", "?"))],
        ["command", " ".join(command) if isinstance(command, list) else "(library)"],
        ["audio", f"{seconds:.2f} s, {info['channels']} channel(s) at {info['sr']} Hz"],
        ["cost", settings.cost.describe()],
        # A seed the manifest does not record (a numpy Generator's, or a manifest older
        # than the settings' record) cannot be told.
        ["seed", str(manifest.get("seed", "?"))],
        [
            "separation",
            str(manifest.get("separation", f"{manifest.get('n_components', '?')} components")),
        ],
        ["parts shown", str(n_rows)],
        [
            "iterations",
            f"{manifest.get('iterations', '?')} (at most {fit.n_iter}, tol {fit.tol:g})",
        ],
        ["final cost", "?" if final is None else f"{final:.6g}"],
        ["STFT", f"n_fft {settings.stft.n_fft}, hop {settings.stft.hop_length}"],
        ["mask power", f"{settings.mask_power:g}"],
        ["nmfaudio", str(manifest.get("nmfaudio", "?"))],
    ]


def _evaluation(reference, folder: Path, rows: list[str]) -> dict:
    from .evaluation import evaluate_dirs

    try:
        scores = evaluate_dirs(reference, folder, estimates=rows)
    except NmfaudioError as exc:
        raise type(exc)(f"--reference: {exc}") from None
    return scores.to_dict()
