"""Use nmfaudio from a music-analysis script: describe what each NMF component does.

    python examples/analysis.py [AUDIO_FILE]

For each component: its pitch (the strongest peak of its template), its
spectral centroid, how often it starts a note (onsets in its activation), and
the share of the signal's energy it carries.
"""

from __future__ import annotations

import sys
from pathlib import Path

import librosa
import numpy as np

import nmfaudio
from nmfaudio.frontend import STFTConfig, magnitude, stft

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example" / "mixture.wav"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else EXAMPLE
    y, sr = nmfaudio.load(path)
    config = STFTConfig(n_fft=2048, hop_length=512)
    V = magnitude(stft(y, config))  # (n_freq, n_frames)
    result = nmfaudio.nmf(V, 6, fit=nmfaudio.Fit(init="nndsvda"))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=config.n_fft)
    energy = result.H.sum(axis=1)  # W columns sum to 1, so H rows carry the energy

    print(f"{path.name}: {V.shape[1]} frames, {result.n_iter} iterations")
    print(" k  peak (Hz)  note  centroid (Hz)  onsets  energy")
    for k in range(result.W.shape[1]):
        template, activation = result.W[:, k], result.H[k]
        peak = freqs[np.argmax(template)]
        note = librosa.hz_to_note(peak) if peak > 0 else "-"
        centroid = float(np.sum(freqs * template))
        onsets = librosa.onset.onset_detect(
            onset_envelope=np.maximum(np.diff(activation, prepend=0), 0),
            sr=sr,
            hop_length=config.hop_length,
        )
        share = energy[k] / energy.sum()
        print(f"{k:2d}  {peak:9.1f}  {note:>4}  {centroid:13.1f}  {len(onsets):6d}  {share:6.1%}")


if __name__ == "__main__":
    main()
