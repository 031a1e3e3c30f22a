"""
Separating with a score
=======================

A MIDI file says who plays which note when: each instrument of the score gets
harmonic templates at its pitches, active only near its notes. The score is
aligned to the recording first.
"""

# %%
from pathlib import Path

import nmfaudio
from nmfaudio import plot

# The checkout's data/example/ (the gallery runs this from examples/)
EXAMPLE = next(p for p in (Path("data/example"), Path("../data/example")) if p.is_dir())
y, sr = nmfaudio.load(EXAMPLE / "mixture.wav")
score = nmfaudio.Score.from_midi(EXAMPLE / "mixture.mid")
print(score.instruments, f"{score.duration:.2f} s")

# %%
# A score 0.8 s late and 5 % slow, as a score from a notation program may be:
# alignment brings it back.
late = score.stretched(1.05).shifted(0.8)
result = nmfaudio.separate_with_score(y, sr, late)
result

# %%
first = sorted(result.score.notes, key=lambda n: n.start)[0]
print(f"first note: {late.notes[0].start:.2f} s in the score given, {first.start:.2f} s aligned")
figure = plot.decomposition(result)
