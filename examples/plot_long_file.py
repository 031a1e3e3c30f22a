"""
A long file, streamed
=====================

``separate_file`` reads a file a block of frames at a time and holds whole only
what the NMF needs: the magnitude spectrogram (about 21 MB a minute at 44.1 kHz)
and the activations. It writes each part as it goes, and the result equals the
in-memory path's to the last bit.
"""

# %%
# Synthesize two minutes of music-like audio (a bass line and clicks) and
# write it as a FLAC file:
import json
import tempfile
from pathlib import Path

import numpy as np

import nmfaudio
from nmfaudio import plot

sr = 22050
t = np.arange(120 * sr) / sr
bass = 0.3 * np.sin(2 * np.pi * 55 * 2 ** (np.floor(t) % 4 / 12) * t)
clicks = 0.1 * (np.modf(t * 2)[0] < 0.01) * np.random.default_rng(0).standard_normal(t.size)
folder = Path(tempfile.mkdtemp(prefix="nmfaudio-long-"))
nmfaudio.write_audio(folder / "long.flac", np.stack([bass + clicks, bass - clicks]), sr)

# %%
# Separate it into two sources, streamed, and write the parts as FLAC:
result = nmfaudio.separate_file(
    folder / "long.flac",
    folder / "parts",
    mode=nmfaudio.Sources(2, n_restarts=2),
    output=nmfaudio.Output(format="flac"),
)
manifest = json.loads((folder / "parts" / "nmfaudio.json").read_text())
print(manifest["separation"], manifest["files"])

# %%
# What the NMF held: the spectrogram and the activations.
print(f"V: {result.spectrogram.V.shape}, {result.spectrogram.V.nbytes / 1e6:.1f} MB")
figure = plot.decomposition(result)
