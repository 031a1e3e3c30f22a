"""A score: who plays which note, when. Read from MIDI, or given as spans of time.

A :class:`Score` is plain data, a tuple of :class:`Note`, each with its start
and end in seconds, its MIDI pitch and velocity, and its instrument's name;
drum notes (General MIDI channel 10, or an instrument named as drums) carry
the drum sound as their pitch. MIDI files are read with pretty_midi, the MIR
community's reader (type 0 and type 1 files). A score without notes, for users
who only know when each part plays, is :meth:`Score.from_spans`: every span is a
"note" without pitch.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ._checks import plain_name
from .exceptions import AudioFileError, ParameterError

#: The pitch of a span (a part playing, no note known).
SPAN = -1


def pitch_hz(pitch, tuning: float = 0.0):
    """The fundamental of MIDI ``pitch`` in Hz (A4 = 69 at 440 Hz), ``tuning`` semitones
    sharp; arrays too.

    Examples
    --------
    >>> from nmfaudio.score import pitch_hz
    >>> pitch_hz(69), round(pitch_hz(69, tuning=0.5), 2)  # A4; a quarter-tone sharp
    (440.0, 452.89)
    """
    return 440.0 * 2.0 ** ((pitch - 69 + tuning) / 12)


@dataclass(frozen=True)
class Note:
    """One note of one instrument.

    Attributes
    ----------
    start, end : float
        Seconds from the start of the recording, ``0 <= start < end``.
    pitch : int
        MIDI note number, 0 to 127 (for drums, the General MIDI drum sound);
        :data:`SPAN` for a span of :meth:`Score.from_spans`.
    instrument : str
        The part it belongs to, the name of its output file.
    velocity : int
        MIDI velocity, 1 to 127.
    is_drum : bool

    Examples
    --------
    >>> from nmfaudio import Note
    >>> note = Note(0.5, 1.0, 69, "violin", velocity=90)
    >>> note.pitch, note.end - note.start, note.is_drum
    (69, 0.5, False)
    """

    start: float
    end: float
    pitch: int
    instrument: str
    velocity: int = 100
    is_drum: bool = False

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end < float("inf")):
            raise ParameterError(
                f"a note of {self.instrument!r} must start at 0 s or later and end after it"
                f" starts, got {self.start:g} to {self.end:g} s"
            )
        if not (self.pitch == SPAN or 0 <= self.pitch <= 127):
            raise ParameterError(f"a MIDI pitch is from 0 to 127, got {self.pitch}")

    @property
    def is_pitched(self) -> bool:
        """A note of a pitch (not a drum hit, not a span): what a comb models, alignment
        goes by and a MIDI file holds."""
        return not self.is_drum and self.pitch != SPAN


@dataclass(frozen=True)
class Score:
    """The notes of every instrument of a piece.

    Attributes
    ----------
    notes : tuple of Note
        In any order; at least one.
    programs : dict of str to int
        The General MIDI program of each instrument (kept to write the score back).

    Examples
    --------
    >>> score = Score([Note(0.0, 0.5, 60, "piano"), Note(0.5, 1.0, 64, "piano"),
    ...                Note(0.0, 1.0, 36, "drums", is_drum=True)])
    >>> score.instruments, score.duration
    (['piano', 'drums'], 1.0)
    >>> score.shifted(0.25).notes[0].start
    0.25
    """

    notes: tuple[Note, ...]
    programs: Mapping[str, int] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        notes = tuple(self.notes)
        if not notes:
            raise ParameterError("the score holds no notes")
        if not all(isinstance(note, Note) for note in notes):
            raise ParameterError("a score's notes must be nmfaudio.score.Note")
        object.__setattr__(self, "notes", notes)
        object.__setattr__(self, "programs", dict(self.programs or {}))
        for name in self.instruments:
            plain_name("an instrument's name", name)  # it names the instrument's file
            kinds = {note.is_drum for note in notes if note.instrument == name}
            if len(kinds) > 1:
                raise ParameterError(f"instrument {name!r} has drum notes and pitched notes")

    @property
    def instruments(self) -> list[str]:
        """The instruments' names, in order of first appearance."""
        return list(dict.fromkeys(note.instrument for note in self.notes))

    def of(self, instrument: str) -> list[Note]:
        """The notes of one instrument."""
        return [note for note in self.notes if note.instrument == instrument]

    def is_drum(self, instrument: str) -> bool:
        return self.of(instrument)[0].is_drum

    @property
    def has_pitches(self) -> bool:
        """Whether any note is pitched (not a drum, not a span): what alignment goes by, and
        what a MIDI file can hold."""
        return any(note.is_pitched for note in self.notes)

    @property
    def duration(self) -> float:
        """The end of the last note, in seconds."""
        return max(note.end for note in self.notes)

    def shifted(self, seconds: float) -> Score:
        """Every note ``seconds`` later (earlier if negative); notes pushed before 0 are cut."""
        return self.warped(lambda t: t + seconds)

    def stretched(self, factor: float) -> Score:
        """Every time multiplied by ``factor`` (a tempo ``1 / factor`` as fast)."""
        if not factor > 0:
            raise ParameterError(f"a stretch factor must be greater than 0, got {factor}")
        return self.warped(lambda t: t * factor)

    def warped(self, warp) -> Score:
        """Every note's start and end through ``warp`` (a non-decreasing function of seconds,
        taking arrays); notes that end at 0 s or earlier are dropped, starts before 0 cut."""
        import numpy as np

        starts = np.asarray(warp(np.array([n.start for n in self.notes], float)), float)
        ends = np.asarray(warp(np.array([n.end for n in self.notes], float)), float)
        notes = [
            replace(note, start=max(0.0, float(a)), end=float(b))
            for note, a, b in zip(self.notes, starts, ends, strict=True)
            if b > max(0.0, a)
        ]
        return Score(tuple(notes), self.programs)

    @classmethod
    def from_midi(cls, path: str | os.PathLike, *, drums: Iterable[str] = ()) -> Score:
        """Read a MIDI file (type 0 or 1) with pretty_midi.

        Each of pretty_midi's instruments (a track, program and channel) is one
        instrument, named after its track, else its General MIDI program, else
        the file's stem; clashing names are numbered (``piano``, ``piano-2``).
        Channel 10 is drums; so is any instrument named in ``drums``.

        Raises
        ------
        AudioFileError
            The file is missing, is not MIDI, or holds no notes.
        ParameterError
            A name in ``drums`` is not an instrument of the score.
        """
        path = Path(path)
        if not path.is_file():
            raise AudioFileError(f"{path}: no such file")
        try:
            import pretty_midi
        except ImportError:  # pragma: no cover - a dependency
            raise AudioFileError(
                "reading MIDI needs pretty_midi: pip install pretty_midi"
            ) from None
        try:
            midi = pretty_midi.PrettyMIDI(str(path))
        except Exception as exc:  # mido and pretty_midi raise many kinds for a bad file
            why = f" ({exc})" if str(exc) else ""  # some say nothing
            raise AudioFileError(f"{path}: not a MIDI file that can be read{why}") from None
        names, notes, programs = [], [], {}
        drums = set(drums)
        for instrument in midi.instruments:
            if not instrument.notes:
                continue
            name = _file_name(instrument.name) or (
                "drums" if instrument.is_drum
                else _file_name(pretty_midi.program_to_instrument_name(instrument.program).lower())
            ) or path.stem  # fmt: skip
            name = _unclashed(name, names)
            names.append(name)
            programs[name] = instrument.program
            is_drum = instrument.is_drum or name in drums or instrument.name in drums
            notes += [
                Note(float(n.start), float(n.end), int(n.pitch), name, int(n.velocity), is_drum)
                for n in instrument.notes
                if n.end > n.start
            ]
        if not notes:
            raise AudioFileError(f"{path}: the score holds no notes")
        unknown = drums - set(names) - {i.name for i in midi.instruments}
        if unknown:
            raise ParameterError(
                f"--drums {sorted(unknown)[0]!r} is not an instrument of {path}:"
                f" it has {', '.join(names)}"
            )
        return cls(tuple(notes), programs)

    @classmethod
    def from_spans(cls, spans: Mapping[str, Sequence[tuple[float, float | None]]]) -> Score:
        """A score of parts that play in spans of time, with no notes known.

        Parameters
        ----------
        spans : mapping of str to sequence of (start, end)
            For each part, when it plays, in seconds; ``end`` ``None``: to the end
            (of the recording; here, a day).

        Raises
        ------
        ParameterError
            A span that ends before it starts, or spans of one part given twice
            that overlap.
        """
        notes = []
        for name, part in spans.items():
            ordered = sorted((float(a), float("inf") if b is None else float(b)) for a, b in part)
            for (a, b), (c, _) in itertools.pairwise(ordered):
                if c < b:
                    raise ParameterError(
                        f"{name}: the spans {a:g}-{b:g} s and from {c:g} s overlap: give each once"
                    )
            for a, b in ordered:
                if b <= a:
                    raise ParameterError(
                        f"{name}: a span must end after it starts, got {a:g}-{b:g}"
                    )
                notes.append(Note(a, min(b, _FOREVER), SPAN, name))
        return cls(tuple(notes))

    def to_midi(self, path: str | os.PathLike) -> Path:
        """Write the score as a MIDI file (spans are not written), atomically."""
        import pretty_midi

        from .outputs import write_file

        midi = pretty_midi.PrettyMIDI()
        for name in self.instruments:
            drum = self.is_drum(name)
            part = pretty_midi.Instrument(self.programs.get(name, 0), is_drum=drum, name=name)
            part.notes = [
                pretty_midi.Note(note.velocity, note.pitch, note.start, note.end)
                for note in self.of(name)
                if note.pitch != SPAN
            ]
            midi.instruments.append(part)
        return write_file(path, lambda target: midi.write(str(target)))


#: The end of a span given without one: longer than any recording.
_FOREVER = 86400.0


def parse_spans(text: str) -> tuple[str, list[tuple[float, float | None]]]:
    """``NAME=0:00-0:12,1:05-`` as ``("NAME", [(0, 12), (65, None)])``: times in seconds,
    ``m:ss`` or ``h:mm:ss``; an open end runs to the end of the recording.

    Examples
    --------
    >>> from nmfaudio.score import parse_spans
    >>> parse_spans("voice=0:00-0:12,1:05-")  # --active's syntax: minutes:seconds, open end
    ('voice', [(0.0, 12.0), (65.0, None)])
    """
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise ParameterError(f"expected NAME=START-END[,START-END...], got {text!r}")
    spans = []
    for item in rest.split(","):
        start, dash, end = item.strip().partition("-")
        if not dash:
            raise ParameterError(f"{name}: a span is START-END (END may be left out), got {item!r}")
        spans.append((_seconds(start), _seconds(end) if end.strip() else None))
    return name, spans


def _seconds(text: str) -> float:
    parts = text.strip().split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ParameterError(f"expected a time as s, m:ss or h:mm:ss, got {text!r}") from None
    if len(values) > 3 or any(v < 0 for v in values):
        raise ParameterError(f"expected a time as s, m:ss or h:mm:ss, got {text!r}")
    seconds = 0.0
    for value in values:
        seconds = seconds * 60 + value
    return seconds


def _file_name(name: str) -> str:
    """``name`` made a plain file name (spaces to underscores, no separators), or ""."""
    cleaned = re.sub(r"[^\w.+-]+", "_", name.strip()).strip("._")
    return cleaned if cleaned.isprintable() else ""


def _unclashed(name: str, taken: Sequence[str]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... for one taken already (as output folders are)."""
    count, candidate = 1, name
    while candidate in taken:
        count += 1
        candidate = f"{name}-{count}"
    return candidate
