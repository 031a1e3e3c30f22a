"""Separation quality on real music: nmfaudio beside the scikit-learn recipe, in one run.

    python benchmarks/bench_quality.py [--data ../shared/data] [--seed 0]

Blind, per case of ``<data>/separation`` (mixture.wav + one WAV per source):
- recipe: scikit-learn KL-NMF (solver "mu") with K = number of sources,
  magnitude-ratio masks, best permutation of components to sources;
- MFCC peer: scikit-learn KL-NMF with 4 components per source, clustered by
  the MFCCs of their templates with k-means (nussl's TimbreClustering approach);
- nmfaudio: ``separate`` with ``COMPONENTS_PER_SOURCE`` components per source,
  then ``group`` (what ``nmfaudio separate --sources S`` does).
Supervised, on drums808 with 4 templates per drum learnt from
``<data>/templates/drums/{kick,snare,hihat}``: the recipe with scikit-learn
(templates by KL-NMF, then activations with W fixed) beside ``nmfaudio learn``
+ ``separate --templates``. Every score is BSS Eval SDR (mir_eval), mean over
the sources, in dB. Needs scikit-learn (pip install '.[test]').
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import librosa
import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import non_negative_factorization

import nmfaudio
from nmfaudio.grouping import COMPONENTS_PER_SOURCE

N_FFT, HOP = 2048, 512
DRUMS = ("kick", "snare", "hihat")


def sklearn_nmf(V: np.ndarray, k: int, seed: int, W: np.ndarray | None = None):
    """scikit-learn KL-NMF, 200 iterations as nmfaudio's default; W kept fixed when given."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if W is None:
            return non_negative_factorization(
                V, n_components=k, init="random", random_state=seed,
                beta_loss="kullback-leibler", solver="mu", max_iter=200,
            )[:2]  # fmt: skip
        # scikit-learn fixes H, not W: factorize the transpose.
        H_T, _, _ = non_negative_factorization(
            V.T, H=W.T, n_components=W.shape[1], init="custom", update_H=False,
            random_state=seed, beta_loss="kullback-leibler", solver="mu", max_iter=200,
        )  # fmt: skip
        return W, H_T.T


def peer_features(W: np.ndarray, sr: int) -> np.ndarray:
    """The MFCC peer's features: librosa's default MFCCs (128 mel bands) of each template."""
    mel = librosa.feature.melspectrogram(S=W**2, sr=sr)
    return librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13).T


def masked_sources(y: np.ndarray, W: np.ndarray, H: np.ndarray, labels, n_sources: int):
    """Magnitude-ratio masks of the components of each label, librosa STFT / istft."""
    X = librosa.stft(y, n_fft=N_FFT, hop_length=HOP)
    total = W @ H + np.finfo(np.float32).eps
    out = []
    for s in range(n_sources):
        members = np.flatnonzero(np.asarray(labels) == s)
        mask = (W[:, members] @ H[members]) / total
        out.append(librosa.istft(X * mask, n_fft=N_FFT, hop_length=HOP, length=len(y)))
    return np.stack(out)


def mean_sdr(references, estimates, names=None, estimate_names=None) -> float:
    scores = nmfaudio.evaluate(
        references, estimates, reference_names=names, estimate_names=estimate_names
    )
    return float(np.mean(scores.sdr))


def load_case(folder: Path):
    y, sr = nmfaudio.load(folder / "mixture.wav")
    y = y.mean(axis=0)
    names = sorted(p.stem for p in folder.glob("*.wav") if p.stem != "mixture")
    references = np.stack([nmfaudio.load(folder / f"{n}.wav")[0].mean(axis=0) for n in names])
    return y, sr, names, references


def blind(folder: Path, seed: int) -> tuple[float, float, float, float]:
    y, sr, names, references = load_case(folder)
    S = len(names)
    V = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    W, H = sklearn_nmf(V, S, seed)
    recipe = mean_sdr(references, masked_sources(y, W, H, range(S), S))
    W, H = sklearn_nmf(V, 4 * S, seed)
    labels = KMeans(S, n_init=10, random_state=seed).fit_predict(peer_features(W, sr))
    peer = mean_sdr(references, masked_sources(y, W, H, labels, S))
    start = time.perf_counter()
    result = nmfaudio.group(nmfaudio.separate(y, sr, COMPONENTS_PER_SOURCE * S, seed=seed), S)
    ours = mean_sdr(references, np.stack([s[0] for s in result.iter_sources()]))
    return recipe, peer, ours, time.perf_counter() - start


def supervised(data: Path, seed: int) -> tuple[float, float]:
    y, sr, names, references = load_case(data / "separation" / "drums808")
    recipe_W, ours = [], []
    for drum in DRUMS:
        files = sorted((data / "templates" / "drums" / drum).glob("*.wav"))
        signals = [nmfaudio.load(f, sr=sr)[0] for f in files]
        V = np.concatenate([np.abs(librosa.stft(s.mean(axis=0), n_fft=N_FFT)) for s in signals], 1)
        recipe_W.append(sklearn_nmf(V, 4, seed)[0])
        ours.append(nmfaudio.learn(signals, sr, 4, name=drum, seed=seed))
    W = np.concatenate(recipe_W, axis=1)
    W, H = sklearn_nmf(np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)), W.shape[1], seed, W)
    labels = np.repeat(np.arange(len(DRUMS)), 4)
    recipe = mean_sdr(references, masked_sources(y, W, H, labels, len(DRUMS)), names, list(DRUMS))
    result = nmfaudio.separate_with_templates(y, sr, ours, seed=seed)
    estimates = np.stack([s[0] for s in result.iter_sources()])
    return recipe, mean_sdr(references, estimates, names, list(result.sources))


def main() -> None:
    parser = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    print(f"Blind, mean SDR in dB (nmfaudio: {COMPONENTS_PER_SOURCE} components per source)")
    print(f"{'case':<12} {'seed':>4} {'recipe':>8} {'MFCC peer':>10} {'nmfaudio':>9} {'time s':>7}")
    rows = []
    for folder in sorted((args.data / "separation").iterdir()):
        for seed in args.seeds:
            rows.append(blind(folder, seed))
            print(
                f"{folder.name:<12} {seed:4d} "
                + "{:8.2f} {:10.2f} {:9.2f} {:7.1f}".format(*rows[-1])
            )
    for seed, seed_rows in zip(
        args.seeds, np.reshape(rows, (-1, len(args.seeds), 4)).transpose(1, 0, 2), strict=True
    ):
        recipe, peer, ours, _ = seed_rows.mean(axis=0)
        print(f"{'mean':<12} {seed:4d} {recipe:8.2f} {peer:10.2f} {ours:9.2f}")
    recipe, peer, ours, _ = np.mean(rows, axis=0)
    print(f"{'mean':<12} {'all':>4} {recipe:8.2f} {peer:10.2f} {ours:9.2f}")
    print(f"nmfaudio - recipe: {ours - recipe:+.2f} dB (target +6)")
    print(f"nmfaudio - MFCC peer: {ours - peer:+.2f} dB")
    print("\nSupervised drums808, 4 learnt templates per drum, mean SDR in dB")
    for seed in args.seeds:
        recipe, ours = supervised(args.data, seed)
        print(
            f"seed {seed}: recipe (scikit-learn) {recipe:.2f}   nmfaudio {ours:.2f}   (target 15)"
        )


if __name__ == "__main__":
    main()
