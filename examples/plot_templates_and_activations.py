"""
Templates and activations
=========================

Look at what the NMF found: the templates ``W`` (a spectrum each), the
activations ``H`` (when each plays), and the components' spectrograms. Then use
them from an analysis script: each component's pitch, centroid, onsets and
share of the energy.
"""

# %%
# The decomposition figure: the recording's spectrogram, each component's
# spectrum on its left, its activation under it (what ``--plot`` writes as
# ``decomposition.png``). The figures are made without pyplot: they never open a
# window.
from pathlib import Path

import librosa
import numpy as np

import nmfaudio
from nmfaudio import plot

# The checkout's data/example/ (the gallery runs this from examples/)
EXAMPLE = next(p for p in (Path("data/example"), Path("../data/example")) if p.is_dir())
y, sr = nmfaudio.load(EXAMPLE / "mixture.wav")
result = nmfaudio.separate(y, sr, n_components=6)
figure = plot.decomposition(result)

# %%
# Each component's own spectrogram, on one dB scale (``components.png``):
components_figure = plot.components(result)

# %%
# The factors are plain arrays: ``W`` is (n_freq, K) with columns summing to
# one, so the rows of ``H`` (K, n_frames) carry the energy.
freqs = librosa.fft_frequencies(sr=sr, n_fft=result.config.n_fft)
energy = result.H.sum(axis=1)
print(" k  peak (Hz)  note  centroid (Hz)  onsets  energy")
for k in range(result.n_components):
    template, activation = result.W[:, k], result.H[k]
    peak = freqs[np.argmax(template)]
    note = librosa.hz_to_note(peak) if peak > 0 else "-"
    centroid = float(np.sum(freqs * template))
    onsets = librosa.onset.onset_detect(
        onset_envelope=np.maximum(np.diff(activation, prepend=0), 0),
        sr=sr,
        hop_length=result.config.hop_length,
    )
    share = energy[k] / energy.sum()
    print(f"{k:2d}  {peak:9.1f}  {note:>4}  {centroid:13.1f}  {len(onsets):6d}  {share:6.1%}")
