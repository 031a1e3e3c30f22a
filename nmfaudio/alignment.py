"""Aligning a score to a recording: chroma of both, dynamic time warping, notes warped.

A score from a notation program or a DAW is rarely in time with a performance
(off by seconds, not the tenths the score mode's constraints absorb). The
recording's chroma (from the magnitude spectrogram the NMF factorizes, at the
estimated tuning) is matched to the score's chroma (its pitched notes, weighted
by velocity) by :func:`librosa.sequence.dtw` under the cosine distance, and each
note's start and end are carried through the warping path. The DTW matches the
span the score's notes cover to the span the recording is heard in (silence
before and after either is not matched: a score late by 2 s sent its first
notes half a second off). Both are pooled to at most
:data:`MAX_ALIGNMENT_FRAMES` frames, so that the DTW's cost matrix stays
bounded (it is quadratic in the frames) whatever the duration.

:func:`alignments` gives the path's warp and the straight line fitted to it
(an offset and a tempo), for the score mode to choose from.
"""

from __future__ import annotations

import numpy as np

from .frontend import pooled_frames
from .score import Score
from .settings import STFTConfig

#: Most frames of each chroma sequence the DTW matches: its matrices are this squared
#: (4000 frames: 2 x 128 MB of float64), a 93 ms step for 6 minutes at 22 kHz, hop 512.
MAX_ALIGNMENT_FRAMES = 4000
#: Seconds over which an onset feature decays (DLNCO's decaying onsets).
ONSET_DECAY = 0.1
#: Frames more than this many dB below the loudest are silence before or after the
#: recording (the convention of ``librosa.effects.trim``).
SILENCE_DB = 60.0
#: Most notes the straight line is fitted through (Theil-Sen is quadratic in them).
MAX_LINE_POINTS = 1000


def alignments(
    score: Score, V: np.ndarray, sr: int, config: STFTConfig, tuning: float = 0.0
) -> list[Score]:
    """``score`` warped through the DTW's path (:func:`warp`) and through the straight line
    fitted to it (:func:`straight`): the path follows a performance's tempo changes, the
    line does not take the path's local slips (notes 50-300 ms off inside held chords).

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio import Note, Score, STFTConfig
    >>> from nmfaudio.alignment import alignments
    >>> from nmfaudio.frontend import magnitude, stft
    >>> sr, pitches = 16000, [60, 64, 67, 72]
    >>> t = np.arange(2 * sr) / sr
    >>> f0 = np.repeat([440 * 2 ** ((p - 69) / 12) for p in pitches], len(t) // 4)
    >>> y = np.sin(2 * np.pi * np.cumsum(f0) / sr).astype(np.float32)  # a note every 0.5 s
    >>> late = Score([Note(0.5 * i + 0.3, 0.5 * i + 0.8, p, "piano")
    ...               for i, p in enumerate(pitches)])
    >>> config = STFTConfig()
    >>> path, line = alignments(late, magnitude(stft(y[None], config)), sr, config)
    >>> [round(n.start, 1) for n in line.notes]  # 0.3 s late, brought back
    [0.0, 0.5, 1.0, 1.5]
    """
    path = warp(score, V, sr, config, tuning)
    return [score.warped(path), score.warped(straight(path, score))]


def straight(warp, score: Score):
    """The line ``t -> a + b t`` through the notes' starts sent by ``warp`` (Theil-Sen: the
    median of the pairwise slopes, so the notes of a bar the path locked wrongly do not
    bend it), for at most :data:`MAX_LINE_POINTS` notes evenly spread."""
    from scipy.stats import theilslopes

    starts = np.unique([n.start for n in score.notes if n.is_pitched])
    starts = starts[np.linspace(0, len(starts) - 1, min(len(starts), MAX_LINE_POINTS)).astype(int)]
    if len(starts) < 2:
        offset = float(warp(starts)[0] - starts[0])
        return lambda t: np.asarray(t) + offset
    slope, intercept, _, _ = theilslopes(warp(starts), starts, method="joint")
    return lambda t: intercept + slope * np.asarray(t)


def warp(score: Score, V: np.ndarray, sr: int, config: STFTConfig, tuning: float = 0.0):
    """The function from the score's times to the recording's, in seconds, that matches
    the score to the recording whose magnitude spectrogram is ``V``.

    Parameters
    ----------
    score : Score
        With pitched notes (drums and spans follow the warp of the pitched notes).
    V : np.ndarray [shape=(n_freq, n_frames)]
    sr : int
    config : STFTConfig
        The settings ``V`` was made with.
    tuning : float
        The recording's deviation from A440, in fractions of a semitone.

    Returns
    -------
    callable
        Of an array of seconds; non-decreasing.
    """
    import librosa

    hop_seconds = config.hop_length / sr
    n_audio = V.shape[1]
    pitched = [n for n in score.notes if n.is_pitched]
    first, last = min(n.start for n in pitched), max(n.end for n in pitched)
    score = score.shifted(-first)  # the notes' span from 0; its start restored below
    n_score = int(np.ceil((last - first) / hop_seconds)) + 1
    factor = max(1, int(np.ceil(max(n_audio, n_score) / MAX_ALIGNMENT_FRAMES)))
    audio = librosa.feature.chroma_stft(
        S=np.asarray(V, np.float64) ** 2, sr=sr, n_fft=config.n_fft, tuning=tuning, norm=None
    )
    # Chroma alone leaves the path free inside held chords: for scores up to 2 s off, onsets
    # were 33 ms off in the median and 84 % within 100 ms; with decaying onset features
    # beside it (as synctoolbox's DLNCO), 13 ms and 96 % (the 16 development pieces,
    # benchmarks/bench_score.py --part align).
    rate = np.exp(-hop_seconds / ONSET_DECAY)
    rise = np.diff(np.log1p(100 * audio / max(float(audio.max()), 1e-12)), axis=1, prepend=0)
    audio = np.concatenate([_unit(audio), _unit(_decaying(np.maximum(rise, 0), rate))])
    chroma = _score_chroma(score, n_score, hop_seconds)
    onsets = _decaying(_score_chroma(score, n_score, hop_seconds, onsets=True), rate)
    chroma = np.concatenate([_unit(chroma), _unit(onsets)])
    audio = pooled_frames(audio, factor)
    notes = pooled_frames(chroma, factor)
    heard = _heard(V, factor)
    _, path = librosa.sequence.dtw(X=_unit(notes), Y=_unit(audio[:, heard]), metric="cosine")
    path = path[::-1] + np.array([0, heard.start])
    score_frames = np.unique(path[:, 0])
    audio_frames = np.array([path[path[:, 0] == i, 1].mean() for i in score_frames])
    # A score frame covers [i, i + 1) hops, centred half a hop on; an audio frame is centred
    # on its hop (the STFT's frames are centred); pooled frames at the centre of theirs.
    score_times = (score_frames * factor + factor / 2) * hop_seconds + first
    audio_times = (audio_frames * factor + (factor - 1) / 2) * hop_seconds
    return lambda t: _interpolate(t, score_times, audio_times)


def _heard(V: np.ndarray, factor: int) -> slice:
    """The pooled frames from the first to the last within :data:`SILENCE_DB` of the
    loudest."""
    power = pooled_frames(np.sum(np.square(V, dtype=np.float64), axis=0)[None], factor)[0]
    loud = np.flatnonzero(power > power.max() * 10 ** (-SILENCE_DB / 10))
    return slice(int(loud[0]), int(loud[-1]) + 1) if len(loud) else slice(0, len(power))


def _interpolate(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``np.interp``, carried on past both ends at slope 1 (the score's own tempo)."""
    out = np.interp(t, x, y)
    out = np.where(t < x[0], y[0] + (t - x[0]), out)
    return np.where(t > x[-1], y[-1] + (t - x[-1]), out)


def _score_chroma(score: Score, n_frames: int, hop_seconds: float, *, onsets: bool = False):
    """The score's chroma, velocity-weighted, over its notes (or, with ``onsets``, at their
    first frame only)."""
    chroma = np.zeros((12, n_frames))
    for note in score.notes:
        if not note.is_pitched:
            continue
        a = min(int(note.start / hop_seconds), n_frames - 1)
        b = a + 1 if onsets else max(a + 1, int(np.ceil(note.end / hop_seconds)))
        chroma[note.pitch % 12, a:b] += note.velocity / 127
    return chroma


def _decaying(features: np.ndarray, rate: float) -> np.ndarray:
    """Each value held and decaying by ``rate`` a frame until a larger one comes."""
    out = np.array(features, dtype=float)
    for t in range(1, out.shape[1]):
        np.maximum(out[:, t], rate * out[:, t - 1], out=out[:, t])
    return out


def _unit(features: np.ndarray) -> np.ndarray:
    """Columns scaled to unit norm; silent columns get a small flat chroma (the cosine
    distance of a zero column is undefined)."""
    features = features + 1e-6
    return features / np.linalg.norm(features, axis=0, keepdims=True)
