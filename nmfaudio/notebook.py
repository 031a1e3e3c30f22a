"""How a separation shows itself in Jupyter and in the documentation's gallery.

:meth:`Separation._repr_html_ <nmfaudio.Separation._repr_html_>` is :func:`separation_html`:
each part as an ``<audio>`` player with its name and level, and the decomposition
figure, small, all inside the HTML as data (``data:`` URLs), so nothing is written
to disk and the page needs no network. Parts are embedded as 16-bit WAV, at most
:data:`PREVIEW_SECONDS` of each (a notebook holds what it shows: a part of a
10-minute stereo recording would be 100 MB); write the whole with :func:`nmfaudio.save`.
A separation streamed from a file holds no STFT to make parts from (its parts are
what :func:`nmfaudio.separate_file` wrote): it shows its figure and says so.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import soundfile as sf

from .report import level_db

#: Seconds of each part a notebook's player holds (about 2.6 MB a stereo part at 22 kHz).
PREVIEW_SECONDS = 30.0
#: Pixels across of the decomposition figure shown under the players.
FIGURE_WIDTH = 640


def separation_html(result) -> str:
    """The parts of ``result`` (a :class:`~nmfaudio.Separation`) as players, with their
    names and levels, and its decomposition figure: one self-contained HTML fragment."""
    if result.X is None:  # streamed from a file: no STFT to make the parts from
        source = html.escape(result.source.name if result.source else "a file")
        note = f"; streamed from {source}: its parts are the files written from it"
        rows = [_row(name) for name in result.part_names()]
    else:
        kept = min(result.length, int(PREVIEW_SECONDS * result.sr))
        note = f", the first {PREVIEW_SECONDS:g} s" if kept < result.length else ""
        signals = result.iter_components() if result.sources is None else result.iter_sources()
        rows = [
            _row(name, np.atleast_2d(signal)[:, :kept], result.sr)
            for name, signal in zip(result.part_names(), signals, strict=True)
        ]
    channels = f"{result.n_channels} channel{'s' * (result.n_channels != 1)}"
    return (
        '<div class="nmfaudio-separation">'
        f"<p><b>{html.escape(result.describe())}</b>, {result.length / result.sr:.1f} s at"
        f" {result.sr} Hz, {channels}{note}</p>"
        "<table><tr><th>part</th><th>level (RMS)</th><th></th></tr>" + "".join(rows) + "</table>"
        f'<img alt="templates and activations" src="{_figure_url(result)}">'
        "</div>"
    )


def _row(name: str, signal: np.ndarray | None = None, sr: int = 0) -> str:
    """A part's row: its name, and with its signal its level and a player."""
    if signal is None:
        return f"<tr><td>{html.escape(name)}</td><td></td><td></td></tr>"
    level = level_db(float(np.mean(np.square(signal, dtype=np.float64))))
    level = "silent" if level is None else f"{level:.1f} dB"
    return (
        f"<tr><td>{html.escape(name)}</td><td>{level}</td>"
        f'<td><audio controls preload="none" src="{_wav_url(signal, sr)}"></audio></td></tr>'
    )


def batch_html(batch) -> str:
    """A :class:`~nmfaudio.pipeline.BatchResult` as a table: each input, what became of it
    and its folder (or its error)."""
    rows = [(path, "done", out) for path, out in batch.done]
    rows += [(path, "skipped (complete)", out) for path, out in batch.skipped]
    rows += [(path, "busy (another run)", out) for path, out in batch.busy]
    rows += [(path, "failed", error) for path, error in batch.failed]
    cells = "".join(
        f"<tr><td>{html.escape(str(a))}</td><td>{b}</td><td>{html.escape(str(c))}</td></tr>"
        for a, b, c in rows
    )
    return (
        f"<p><b>{html.escape(batch.summary())}</b></p>"
        f"<table><tr><th>input</th><th></th><th>folder or error</th></tr>{cells}</table>"
    )


def _wav_url(signal: np.ndarray, sr: int) -> str:
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(signal.T, -1, 1), sr, format="WAV", subtype="PCM_16")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_url(result) -> str:
    from .plot import decomposition

    figure = decomposition(result)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_WIDTH / figure.get_figwidth())
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
