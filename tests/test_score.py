"""Scores: notes read from MIDI files (type 0 and 1, drums by channel and by name), spans,
moved in time, written back; and the score mode separating what a score describes."""

from __future__ import annotations

import json

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from conftest import snr
from test_cli import run

import nmfaudio
from nmfaudio import AudioFileError, Note, ParameterError, Score, Settings
from nmfaudio.alignment import alignments, straight
from nmfaudio.frontend import magnitude, stft
from nmfaudio.outputs import ALIGNED_SCORE, MANIFEST
from nmfaudio.score import SPAN, parse_spans

SR = 16000


def harmonic(pitch: int, start: float, end: float, seconds: float) -> np.ndarray:
    """A note of ``pitch`` with eight partials at 1/h, from ``start`` to ``end``."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 440 * 2 ** ((pitch - 69) / 12)
    gate = (t >= start) & (t < end)
    envelope = gate * np.exp(-3 * np.clip(t - start, 0, None))
    tone = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 9) if h * f0 < SR / 2)
    return (0.2 * envelope * tone).astype(np.float32)


#: Two instruments, overlapping in time: (instrument, pitch, start, end).
PIECE = [
    ("flute", 72, 0.0, 0.9), ("flute", 76, 1.0, 1.9), ("flute", 79, 2.0, 2.9),
    ("cello", 48, 0.5, 1.4), ("cello", 43, 1.5, 2.4), ("cello", 45, 2.5, 3.0),
]  # fmt: skip
SECONDS = 3.2


def piece():
    parts = {name: np.zeros(int(SECONDS * SR), np.float32) for name in ("flute", "cello")}
    for name, pitch, start, end in PIECE:
        parts[name] += harmonic(pitch, start, end, SECONDS)
    score = Score(tuple(Note(start, end, pitch, name) for name, pitch, start, end in PIECE))
    return parts, score


def test_the_score_mode_separates_what_the_score_describes():
    parts, score = piece()
    mix = parts["flute"] + parts["cello"]
    result = nmfaudio.separate_with_score(mix, SR, score, align=False)
    assert list(result.sources) == ["flute", "cello"]
    sources = dict(zip(result.sources, result.iter_sources(), strict=True))
    np.testing.assert_allclose(sum(sources.values()), mix, atol=1e-5)  # they add up, 1-D
    for name, truth in parts.items():
        assert snr(truth, sources[name]) > 10, name
    blind = nmfaudio.separate_sources(mix, SR, 2)
    assert result.score == score  # not aligned: the score as given
    assert result.losses[-1] <= result.losses[0] and blind.n_sources == 2


def test_extra_components_make_a_rest_and_alignment_keeps_an_aligned_score():
    parts, score = piece()
    noise = 0.02 * np.random.default_rng(0).standard_normal(int(SECONDS * SR)).astype(np.float32)
    mix = parts["flute"] + parts["cello"] + noise
    result = nmfaudio.separate_with_score(mix, SR, score, n_extra=2)
    assert list(result.sources) == ["flute", "cello", "rest"]
    assert result.score is not None  # what it used, aligned or kept: within a frame of it
    starts = np.array([n.start for n in result.score.notes])
    np.testing.assert_allclose(starts, [n.start for n in score.notes], atol=0.05)


@pytest.mark.parametrize(
    ("shift", "factor", "lead_in"),
    [(0.4, 1.0, 0), (0.0, 1.08, 0), (0.3, 0.95, 0), (1.5, 1.0, 0), (0.0, 1.0, 1.2)],
)
def test_alignment_recovers_an_offset_and_a_tempo_within_50_ms(shift, factor, lead_in):
    """Also a score late by more than its first note (the silence before the notes is not
    matched: the first notes went 0.5 s off) and a recording with a quiet lead-in."""
    parts, score = piece()
    rng = np.random.default_rng(0)
    mix = np.concatenate([1e-4 * rng.standard_normal(int(lead_in * SR)).astype(np.float32),
                          parts["flute"] + parts["cello"]])  # fmt: skip
    config = nmfaudio.STFTConfig()
    V = magnitude(stft(mix[None], config))
    off = score.stretched(factor).shifted(shift)
    assert len(off.notes) == len(score.notes)
    truth = np.array([n.start for n in score.notes]) + lead_in
    for moved in alignments(off, V, SR, config):  # the path's warp, then its straight line
        errors = np.abs(np.sort([n.start for n in moved.notes]) - np.sort(truth))
        assert np.median(errors) < 0.05 and errors.max() < 0.1, errors


def test_the_straight_line_is_not_bent_by_a_bar_the_path_locked_wrongly():
    notes = tuple(Note(0.5 * i, 0.5 * i + 0.4, 60 + i % 5, "piano") for i in range(20))
    late_and_slow = np.poly1d([1.05, 0.8])  # 5 % slower, 0.8 s late

    def path(t):  # the path, but notes 6-8 sent a bar (2 s) on
        t = np.asarray(t)
        return late_and_slow(t) + 2.0 * ((t >= 3.0) & (t < 4.5))

    line = straight(path, Score(notes))
    np.testing.assert_allclose(line(np.array([0.0, 10.0])), late_and_slow([0.0, 10.0]))


def _midi_type0(path, notes, *, channel=0, program=0, drum_channel_notes=()):
    """A type-0 file: one track, the notes of two channels in it."""
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.Message("program_change", program=program, channel=channel, time=0))
    events = [(s, "note_on", p, channel) for p, s, e in notes]
    events += [(e, "note_off", p, channel) for p, s, e in notes]
    events += [(s, "note_on", p, 9) for p, s, e in drum_channel_notes]
    events += [(e, "note_off", p, 9) for p, s, e in drum_channel_notes]
    now = 0
    for seconds, kind, pitch, ch in sorted(events):
        tick = round(mido.second2tick(seconds, 480, 500000))
        track.append(mido.Message(kind, note=pitch, velocity=90, channel=ch, time=tick - now))
        now = tick
    midi.save(path)
    return path


def test_type_0_and_type_1_files_and_drums_by_channel_and_by_name(tmp_path):
    type0 = _midi_type0(
        tmp_path / "song.mid", [(60, 0.0, 0.5), (64, 0.5, 1.0)], program=40,
        drum_channel_notes=[(36, 0.0, 0.1), (38, 0.5, 0.6)],
    )  # fmt: skip
    assert mido.MidiFile(type0).type == 0
    score = Score.from_midi(type0)
    assert sorted(score.instruments) == ["drums", "violin"]  # channel 10; the GM program
    assert score.is_drum("drums") and not score.is_drum("violin")
    assert [(n.pitch, round(n.start, 3)) for n in score.of("violin")] == [(60, 0.0), (64, 0.5)]

    midi = pretty_midi.PrettyMIDI()  # type 1: a track per instrument, named
    for name, program in (("Lead", 80), ("Lead", 81), ("beat", 0)):
        part = pretty_midi.Instrument(program, name=name)
        part.notes = [pretty_midi.Note(100, 50, 0.0, 0.4), pretty_midi.Note(100, 52, 0.5, 0.9)]
        midi.instruments.append(part)
    midi.write(str(tmp_path / "band.mid"))
    assert mido.MidiFile(tmp_path / "band.mid").type == 1
    band = Score.from_midi(tmp_path / "band.mid", drums=["beat"])
    assert band.instruments == ["Lead", "Lead-2", "beat"]  # track names, clashes numbered
    assert band.is_drum("beat") and not band.is_drum("Lead")
    with pytest.raises(ParameterError, match="'kit' is not an instrument"):
        Score.from_midi(tmp_path / "band.mid", drums=["kit"])
    # Written back and read again: the same notes, to the MIDI file's resolution.
    band.to_midi(tmp_path / "again.mid")
    again = Score.from_midi(tmp_path / "again.mid", drums=["beat"])
    assert again.instruments == band.instruments
    assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in again.notes] == [
        (n.pitch, round(n.start, 3), round(n.end, 3)) for n in band.notes
    ]


def test_files_that_are_not_scores_are_refused_naming_the_file(tmp_path):
    (tmp_path / "text.mid").write_text("not midi at all")
    with pytest.raises(AudioFileError, match=r"text\.mid: not a MIDI file"):
        Score.from_midi(tmp_path / "text.mid")
    pretty_midi.PrettyMIDI().write(str(tmp_path / "empty.mid"))
    with pytest.raises(AudioFileError, match=r"empty\.mid: the score holds no notes"):
        Score.from_midi(tmp_path / "empty.mid")
    with pytest.raises(AudioFileError, match=r"missing\.mid: no such file"):
        Score.from_midi(tmp_path / "missing.mid")


def test_notes_spans_and_moves_check_their_values():
    with pytest.raises(ParameterError, match="end after it starts"):
        Note(1.0, 0.5, 60, "x")
    with pytest.raises(ParameterError, match="from 0 to 127"):
        Note(0.0, 0.5, 128, "x")
    with pytest.raises(ParameterError, match="holds no notes"):
        Score(())
    score = Score((Note(0.0, 1.0, 60, "a"), Note(1.0, 2.0, 62, "a")))
    assert [n.start for n in score.shifted(0.5).notes] == [0.5, 1.5]
    assert [n.end for n in score.stretched(2).notes] == [2.0, 4.0]
    assert [n.start for n in score.shifted(-1.5).notes] == [0.0]  # the first is cut off
    assert parse_spans("voice=0:00-0:12,1:05-") == ("voice", [(0.0, 12.0), (65.0, None)])
    with pytest.raises(ParameterError, match="h:mm:ss"):
        parse_spans("voice=a-b")
    spans = Score.from_spans({"voice": [(0, 12), (65, None)], "guitar": [(3, 20)]})
    assert spans.instruments == ["voice", "guitar"] and {n.pitch for n in spans.notes} == {SPAN}
    with pytest.raises(ParameterError, match="end after it starts"):
        Score.from_spans({"voice": [(5, 2)]})
    with pytest.raises(ParameterError, match="overlap: give each once"):
        Score.from_spans({"voice": [(0, 10), (5, 15)]})


def test_spans_confine_a_part_to_when_it_plays():
    parts, _ = piece()
    early, late = parts["flute"].copy(), parts["cello"].copy()
    early[int(1.6 * SR) :] = 0
    late[: int(1.6 * SR)] = 0
    score = Score.from_spans({"early": [(0.0, 1.6)], "late": [(1.6, None)]})
    result = nmfaudio.separate_with_score(early + late, SR, score)
    sources = dict(zip(result.sources, result.iter_sources(), strict=True))
    assert snr(early, sources["early"]) > 10 and snr(late, sources["late"]) > 10


def _score_file(tmp_path, notes, name="song.mid"):
    midi = pretty_midi.PrettyMIDI()
    for instrument, pitch, start, end in notes:
        part = next((i for i in midi.instruments if i.name == instrument), None)
        if part is None:
            part = pretty_midi.Instrument(0, name=instrument)
            midi.instruments.append(part)
        part.notes.append(pretty_midi.Note(90, pitch, start, end))
    midi.write(str(tmp_path / name))
    return tmp_path / name


def _recording(tmp_path):
    parts, _ = piece()
    path = tmp_path / "song.wav"
    sf.write(path, np.stack([parts["flute"] + parts["cello"]] * 2).T, SR, subtype="FLOAT")
    return path


def test_cli_writes_a_file_per_instrument_and_the_aligned_score(capsys, tmp_path):
    song, midi = _recording(tmp_path), _score_file(tmp_path, PIECE)
    out = tmp_path / "out"
    status, stdout, err = run(capsys, "separate", song, "--score", midi, "--extra", "1",
                              "-o", out, "--iterations", "30")  # fmt: skip
    assert status == 0, err
    assert "wrote 3 sources" in stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["flute.wav", "cello.wav", "rest.wav", ALIGNED_SCORE, MANIFEST])
    total = sum(sf.read(out / n, always_2d=True)[0] for n in ("flute.wav", "cello.wav", "rest.wav"))
    np.testing.assert_allclose(total, sf.read(song, always_2d=True)[0], atol=1e-5)
    assert Score.from_midi(out / ALIGNED_SCORE).instruments == ["flute", "cello"]
    manifest = json.loads((out / MANIFEST).read_text())
    assert ALIGNED_SCORE in manifest["files"] and list(manifest["sources"]) == [
        "flute", "cello", "rest"
    ]  # fmt: skip
    assert manifest["n_fft"] == 4096 and manifest["hop_length"] == 1024  # 0.19 s at 16 kHz
    status, _, err = run(capsys, "separate", song, "--score", midi, "--no-align", "-o",
                         tmp_path / "plain", "--iterations", "10", "-q", "--n-fft", "2048",
                         "--hop", "512")  # fmt: skip
    assert status == 0, err
    plain = json.loads((tmp_path / "plain" / MANIFEST).read_text())
    assert plain["n_fft"] == 2048  # asked for, though the default
    # The score as used, here as given, beside the parts all the same.
    assert Score.from_midi(tmp_path / "plain" / ALIGNED_SCORE).instruments == ["flute", "cello"]


def test_a_silent_recording_with_a_score_warns_in_one_line(capsys, tmp_path):
    song = tmp_path / "silent.wav"
    sf.write(song, np.zeros(int(SECONDS * SR), np.float32), SR)
    status, _, err = run(capsys, "separate", song, "--score", _score_file(tmp_path, PIECE),
                         "-o", tmp_path / "out", "--iterations", "5", "-q")  # fmt: skip
    assert status == 0
    assert err.strip().count("\n") == 0 and "warning: the audio is silent" in err, err


def test_cli_spans_for_a_recording_without_a_score(capsys, tmp_path):
    song = _recording(tmp_path)
    out = tmp_path / "out"
    status, _, err = run(
        capsys, "separate", song, "--active", "a=0:00-0:01.6", "--active", "b=0:01.6-",
        "-o", out, "--iterations", "20", "-q",
    )  # fmt: skip
    assert status == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.wav", "b.wav", MANIFEST]


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (lambda t: ["--score", t / "text.mid"], 1, "text.mid: not a MIDI file"),
        (lambda t: ["--score", t / "empty.mid"], 1, "empty.mid: the score holds no notes"),
        (lambda t: ["--score", t / "late.mid"], 1, "no note of the score starts inside"),
        (lambda t: ["--score", t / "high.mid"], 1, "above the Nyquist frequency"),
        (lambda t: ["--score", t / "song.mid", "--sources", "2"], 2, "--sources cannot be used"),
        (lambda t: ["--score", t / "song.mid", "--templates", t / "x.npz"], 2, "--templates"),
        (lambda t: ["--active", "a=0:10-0:05"], 2, "a span must end after it starts"),
        (lambda t: ["--active", "a=0:30-"], 1, "past the recording's end"),
        (lambda t: ["--active", "a=0-2", "--active", "a=1-3"], 2, "overlap: give each once"),
        (lambda t: ["--active", "a=0-2", "--score", t / "song.mid"], 2, "not with --score"),
        (lambda t: ["--no-align"], 2, "--no-align needs --score"),
    ],
)  # fmt: skip
def test_cli_bad_scores_get_one_line_and_write_nothing(capsys, tmp_path, make, status, message):
    song = _recording(tmp_path)
    _score_file(tmp_path, PIECE)
    (tmp_path / "text.mid").write_text("not midi")
    pretty_midi.PrettyMIDI().write(str(tmp_path / "empty.mid"))
    _score_file(tmp_path, [("late", 60, 20.0, 21.0)], "late.mid")
    _score_file(tmp_path, [("piccolo", 127, 0.0, 1.0)], "high.mid")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(capsys, "separate", song, "-o", tmp_path / "o", *make(tmp_path), "-q")
    assert code == status and message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_the_score_mode_spends_a_long_window_on_frequency_unless_told():
    parts, score = piece()
    mode = nmfaudio.WithScore(score)
    # The power of two nearest 0.19 s, a quarter of it the hop: a duration, at any rate.
    for sr, n_fft in ((8000, 2048), (22050, 4096), (44100, 8192), (48000, 8192)):
        assert mode.stft(Settings(), sr) == nmfaudio.STFTConfig(n_fft=n_fft, hop_length=n_fft // 4)
    given = nmfaudio.STFTConfig(n_fft=1024, hop_length=256)
    assert mode.stft(Settings(stft=given), 44100) == given
    assert mode.stft(Settings()) == nmfaudio.STFTConfig()  # no rate: what was asked
    as_it_is = nmfaudio.WithScore(score, model=nmfaudio.ScoreModel(window=None))
    assert as_it_is.stft(Settings(), 44100) == nmfaudio.STFTConfig()  # the default kept
    with pytest.raises(ParameterError, match=r"window must be greater than 0, got 0\.0"):
        nmfaudio.ScoreModel(window=0)
    result = nmfaudio.separate_with_score(parts["flute"] + parts["cello"], SR, score, align=False)
    assert result.settings.stft == nmfaudio.STFTConfig(n_fft=4096, hop_length=1024)
    assert result.W.shape[0] == 4096 // 2 + 1


def test_the_alignment_sees_the_recording_at_the_other_modes_stft(tmp_path):
    # The score mode's long window smears onsets: the alignment's spectrogram is made again
    # at the standard STFT, from the STFT in memory or from the file that was streamed.
    from nmfaudio.frontend import read_spectrogram, spectrogram
    from nmfaudio.modes import _magnitude_at

    parts, _ = piece()
    stereo = np.stack([parts["flute"] + parts["cello"], parts["flute"] - 0.5 * parts["cello"]])
    song = tmp_path / "song.wav"
    sf.write(song, stereo.T, SR, subtype="FLOAT")
    long = nmfaudio.STFTConfig(n_fft=4096, hop_length=1024)
    fine = nmfaudio.STFTConfig()
    expected = magnitude(stft(stereo, fine))
    in_memory = _magnitude_at(spectrogram(stereo, SR, long), fine)
    streamed = _magnitude_at(read_spectrogram(song, long), fine)
    assert in_memory.shape == streamed.shape == expected.shape
    np.testing.assert_allclose(in_memory, expected, atol=1e-4 * expected.max())
    np.testing.assert_allclose(streamed, expected, atol=1e-4 * expected.max())


def test_library_settings_reach_the_score_mode():
    parts, score = piece()
    mix = parts["flute"] + parts["cello"]
    few = nmfaudio.separate_with_score(
        mix, SR, score, align=False, settings=Settings(fit=nmfaudio.Fit(n_iter=7, tol=0))
    )
    assert len(few.losses) == 7
    with pytest.raises(ParameterError, match=r"score must be a nmfaudio\.Score"):
        nmfaudio.WithScore("song.mid")


def test_a_folder_of_recordings_takes_each_ones_score_beside_it(capsys, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    song = _recording(album)
    _score_file(album, PIECE)
    (album / "other.wav").write_bytes(song.read_bytes())  # no other.mid beside it
    out = tmp_path / "out"
    code, _, err = run(capsys, "separate", album, "--score", "-o", out, "--iterations", "10")
    assert code == 1
    assert "other.wav: no score beside it (expected other.mid)" in err
    assert "1 done, 0 skipped, 1 failed" in err
    assert sorted(p.name for p in (out / "song").iterdir()) == sorted(
        ["flute.wav", "cello.wav", ALIGNED_SCORE, MANIFEST]
    )
    assert not (out / "other").exists()


def test_the_parts_figure_shows_each_instruments_notes(tmp_path):
    from matplotlib.collections import LineCollection

    from nmfaudio import plot

    parts, score = piece()
    result = nmfaudio.separate_with_score(parts["flute"] + parts["cello"], SR, score, align=False)
    figure = plot.components(result)
    drawn = {
        ax.get_title(): sum(len(c.get_segments()) for c in ax.collections
                            if isinstance(c, LineCollection))
        for ax in figure.axes if ax.get_title()
    }  # fmt: skip
    assert drawn == {"flute": 3, "cello": 3}
    figure.savefig(tmp_path / "parts.png", dpi=50)
    assert (tmp_path / "parts.png").stat().st_size > 1000


def test_a_part_name_that_is_not_a_plain_file_name_writes_nothing_anywhere(capsys, tmp_path):
    with pytest.raises(ParameterError, match="an instrument's name must be a plain file name"):
        Score((Note(0.0, 1.0, 60, "../up"),))
    with pytest.raises(ParameterError, match="plain file name, got 'a/b'"):
        Score.from_spans({"a/b": [(0, 1)]})
    song = _recording(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*")}
    code, _, err = run(capsys, "separate", song, "--active", "../evil=0-1", "--active", "ok=1-",
                       "-o", tmp_path / "out", "-q")  # fmt: skip
    assert code == 2 and "plain file name, got '../evil'" in err, err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*")} == before  # nothing written
