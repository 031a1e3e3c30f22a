"""Synthesize the example in data/example/: a 4-second stereo mixture and its three parts.

    python data/make_example.py

Writes melody.wav (harmonic notes), bass.wav (a low bass line), drums.wav
(kick, snare, hi-hat) and mixture.wav, 22050 Hz, stereo, 16-bit, and
mixture.mid, the exact score of the three parts (drums on channel 10). The
parts are quantized first and the mixture is their integer sum, so mixture.wav
is exactly the sum of the other three files. The output is the same on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
BPM = 120
BEAT = 60 / BPM
DURATION = 4.0
OUT = Path(__file__).with_name("example")


def midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def note(freq: float, seconds: float, *, harmonics: int, decay: float) -> np.ndarray:
    """A harmonic tone, partial h at amplitude 1/h, with a short attack and exponential decay."""
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * h * freq * t) / h for h in range(1, harmonics + 1))
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / decay)
    envelope[-int(0.01 * SR) :] *= np.linspace(1, 0, int(0.01 * SR))  # no click at the end
    return tone * envelope


def place(track: np.ndarray, sound: np.ndarray, start: float) -> None:
    i = int(start * SR)
    n = min(len(sound), len(track) - i)
    track[i : i + n] += sound[:n]


MELODY = [72, 76, 79, 76, 74, 77, 81, 79]  # C5 E5 G5 E5 D5 F5 A5 G5, one per beat
BASS = [36, 43, 45, 41]  # C2 G2 A2 F2, one per half bar
KICK, SNARE, HIHAT = 36, 38, 42  # General MIDI drum sounds


def melody() -> np.ndarray:
    track = np.zeros(int(DURATION * SR))
    notes = MELODY
    for i, n in enumerate(notes):
        place(track, note(midi_hz(n), BEAT, harmonics=6, decay=0.25), i * BEAT)
    return 0.12 * track


def bass() -> np.ndarray:
    track = np.zeros(int(DURATION * SR))
    notes = BASS
    for i, n in enumerate(notes):
        place(track, note(midi_hz(n), 2 * BEAT, harmonics=3, decay=0.6), i * 2 * BEAT)
    return 0.2 * track


def drums(rng: np.random.Generator) -> np.ndarray:
    track = np.zeros(int(DURATION * SR))
    t = np.arange(int(0.3 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 * t + 70 * 0.04 * (1 - np.exp(-t / 0.04)))) * np.exp(-t / 0.08)
    snare = (0.6 * rng.standard_normal(t.size) + 0.4 * np.sin(2 * np.pi * 190 * t)) * np.exp(
        -t / 0.05
    )
    hat_noise = rng.standard_normal(t.size)
    hihat = np.diff(hat_noise, prepend=0) * np.exp(-t / 0.015)  # differenced noise: bright
    for beat in range(8):
        place(track, kick if beat % 2 == 0 else snare, beat * BEAT)
    for eighth in range(16):
        place(track, 0.3 * hihat, eighth * BEAT / 2)
    return 0.25 * track


def score():
    """The parts' notes as a MIDI file: the drums' sounds last 0.3 s, as synthesized."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=BPM)
    hits = [(KICK if b % 2 == 0 else SNARE, b * BEAT) for b in range(8)]
    hits += [(HIHAT, e * BEAT / 2) for e in range(16)]
    parts = {
        "melody": (81, False, [(n, i * BEAT, (i + 1) * BEAT) for i, n in enumerate(MELODY)]),
        "bass": (38, False, [(n, 2 * i * BEAT, 2 * (i + 1) * BEAT) for i, n in enumerate(BASS)]),
        "drums": (0, True, [(n, start, start + 0.3) for n, start in hits]),
    }
    for name, (program, is_drum, notes) in parts.items():
        part = pretty_midi.Instrument(program, is_drum=is_drum, name=name)
        part.notes = [
            pretty_midi.Note(100, n, start, min(end, DURATION)) for n, start, end in notes
        ]
        midi.instruments.append(part)
    return midi


def to_int16(mono: np.ndarray, pan: float) -> np.ndarray:
    """Pan a mono part (0 left .. 1 right, equal power) and quantize it to 16 bits."""
    gains = np.array([np.cos(pan * np.pi / 2), np.sin(pan * np.pi / 2)])
    return np.round(np.outer(mono, gains) * 32767).astype(np.int32)


def main() -> None:
    rng = np.random.default_rng(2024)
    parts = {
        "melody": to_int16(melody(), pan=0.3),
        "bass": to_int16(bass(), pan=0.5),
        "drums": to_int16(drums(rng), pan=0.65),
    }
    mixture = sum(parts.values())
    assert np.abs(mixture).max() < 32768, "the mixture would clip"
    OUT.mkdir(exist_ok=True)
    for name, samples in {**parts, "mixture": mixture}.items():
        sf.write(OUT / f"{name}.wav", samples.astype(np.int16), SR, subtype="PCM_16")
    score().write(str(OUT / "mixture.mid"))
    print(f"wrote {', '.join(sorted(parts))}, mixture and its score to {OUT}")


if __name__ == "__main__":
    main()
