"""The scikit-learn recipe nmfaudio is measured against, end to end.

    python benchmarks/sklearn_recipe.py INPUT OUTDIR -k 16 --iterations 200

librosa STFT of the mono mix, scikit-learn KL-NMF (solver "mu"), magnitude-ratio
soft masks applied to every channel's STFT, librosa inverse STFT, one file per
component: what a user would write with the usual tools.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from sklearn.decomposition import non_negative_factorization


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()

    y, sr = librosa.load(args.input, sr=None, mono=False)
    y = np.atleast_2d(y)
    V = np.abs(librosa.stft(librosa.to_mono(y), n_fft=2048, hop_length=512))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W, H, _ = non_negative_factorization(
            V, n_components=args.k, init="random", random_state=0, beta_loss="kullback-leibler",
            solver="mu", max_iter=args.iterations, tol=0,
        )  # fmt: skip
    X = librosa.stft(y, n_fft=2048, hop_length=512)
    total = W @ H + np.finfo(np.float32).eps
    args.outdir.mkdir(parents=True, exist_ok=True)
    for k in range(args.k):
        mask = np.outer(W[:, k], H[k]) / total
        part = librosa.istft(X * mask, hop_length=512, n_fft=2048, length=y.shape[1])
        sf.write(args.outdir / f"component_{k:02d}.wav", part.T, sr, subtype="FLOAT")


if __name__ == "__main__":
    main()
