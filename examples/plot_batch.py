"""
A collection
============

``separate_files`` separates every audio file of folders, globs or lists, one
folder of parts each; a bad file never stops the others, and a run again skips
what is done (for the same settings).
"""

# %%
# Three short synthesized recordings, and one file that is not audio:
import tempfile
from pathlib import Path

import numpy as np

import nmfaudio

sr = 16000
album = Path(tempfile.mkdtemp(prefix="nmfaudio-album-"))
t = np.arange(3 * sr) / sr
for i, f0 in enumerate((110.0, 147.0, 196.0)):
    tone = 0.3 * np.sin(2 * np.pi * f0 * t) * (np.modf(t * 2)[0] < 0.4)
    hits = 0.3 * (np.modf(t * 4)[0] < 0.02) * np.random.default_rng(i).standard_normal(t.size)
    nmfaudio.write_audio(album / f"track_{i + 1}.wav", tone + hits, sr)
(album / "track_4.wav").write_text("not audio")

# %%
# Separate them all, two at a time; a batch's result shows as a table:
out = album.parent / (album.name + "-separated")
batch = nmfaudio.separate_files([album], out, jobs=2, mode=nmfaudio.Components(4))
batch

# %%
# Run again: the folders that are complete for these settings are skipped.
again = nmfaudio.separate_files([album], out, mode=nmfaudio.Components(4))
print(again.summary())
