"""Blind grouping: what the default (``--sources``) was measured against and did not lose to.

    python benchmarks/bench_grouping_cues.py [--data DIR ...] [--seeds 0 1] [--jobs 2]
                                             [--max-sources 3] [--cases NAME ...]

Issue 24 asks for a detector of the simple case (few, very different parts,
where the scikit-learn recipe's K = S can beat the consensus of 8 components
per source) and for cues not yet measured. On every case of each ``--data``
folder (``separation/`` and ``rendered/`` below it, as ``bench_quality.py``
reads them; more pieces rendered with ``make_midi_corpus.py`` can be given as
another folder holding a ``rendered/``), with at most ``--max-sources`` parts,
for each seed:

- recipe: scikit-learn KL-NMF with K = S and magnitude-ratio masks;
- default: the consensus of 8 restarts of 8 components per source, grouped
  by the MFCCs of the templates (what ``--sources S`` runs);
- ``K=S``, ``K=2S``: the same consensus of 8 restarts with 1 or 2 components
  per source (the candidates for the simple case);
- ``cues w``: the default with two percussiveness cues of each component
  beside its MFCCs in the Ward clustering, weighted ``w`` against them (each
  standardised): the spectral flatness of its template (drums are broadband)
  and the share of its activation that is attack (the sum of its rises over
  its sum: drums strike and decay);
- ``nmf euc``, ``nmf kl``: the default's fits grouped instead by a second NMF
  (Spiertz and Gnann, DAFx 2009): the log-mel spectra the MFCCs are computed
  from, shifted to be non-negative, factorized into one part per source
  (Euclidean or KL), each component to the part with the largest weight;

and the candidate detector features, from the recording alone: the final
divergence of the K = S fits over the default's (how much more the larger
model explains) and the agreement of the two separations' masks (the
spectrogram-weighted overlap of matched masks). Every score is BSS Eval SDR
and SI-SDR (mir_eval), the mean over a case's sources, then over seeds; the
cue weight is cross-validated over alternate cases as in ``bench_quality.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
from multiprocessing import Pool
from pathlib import Path

import librosa
import numpy as np
import scipy.optimize
from bench_quality import CONFIG, case_folders, load_case, masked_sources, scores, sklearn_nmf

from nmfaudio import Cost, Fit, Settings, Sources
from nmfaudio.backend import scaled_for_masks
from nmfaudio.grouping import (
    cluster_components,
    consensus,
    source_names,
    template_log_mel,
    template_mfcc,
)
from nmfaudio.nmf import nmf
from nmfaudio.separation import Separation, analyse

RESTARTS = 8
WEIGHTS = (0.5, 1.0, 2.0)  # of the cues; 0 is the default


def cues(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Log spectral flatness of each template, log share of each activation that is attack."""
    W = W.astype(np.float64) + 1e-12
    flatness = np.exp(np.mean(np.log(W), axis=0)) / np.mean(W, axis=0)
    H = H.astype(np.float64)
    attack = np.maximum(np.diff(H, axis=1), 0).sum(axis=1) / np.maximum(H.sum(axis=1), 1e-12)
    return np.stack([np.log(flatness), np.log(attack + 1e-9)], axis=1)


def standardised(x: np.ndarray) -> np.ndarray:
    """Each column to zero mean and unit variance."""
    return (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)


def ward_features(fit, sr: int) -> np.ndarray:
    """One fit's MFCCs, scaled as a whole (Ward: the same groups) so that cues beside them
    weigh alike on every recording."""
    features = template_mfcc(fit.W, sr, n_fft=CONFIG.n_fft)
    return (features - features.mean(axis=0)) / max(features.std(), 1e-12)


def grouped(fit, sr: int, n_sources: int, weight: float) -> list[np.ndarray]:
    """Ward groups of one fit's components by their MFCCs and (weight > 0) the cues."""
    features = ward_features(fit, sr)
    if weight:
        features = np.concatenate([features, weight * standardised(cues(fit.W, fit.H))], axis=1)
    labels = cluster_components(features, n_sources)
    return [np.flatnonzero(labels == s) for s in range(n_sources)]


def nmf_grouped(fit, sr: int, n_sources: int, beta: float, rng) -> list[np.ndarray]:
    """Groups of one fit's components by an NMF of their log-mel spectra (Spiertz & Gnann)."""
    X = template_log_mel(fit.W, sr, n_fft=CONFIG.n_fft)  # what the MFCCs are the DCT of
    parts = nmf(X - X.min(), n_sources, cost=Cost(beta=beta),
                fit=Fit(seed=rng, n_iter=500, tol=1e-6), dtype=np.float64)  # fmt: skip
    weights = parts.H * parts.W.sum(axis=0)[:, None]
    labels = weights.argmax(axis=0)
    share = weights / np.maximum(weights.sum(axis=0), 1e-300)
    for s in range(n_sources):  # a part no component chose takes its largest share
        if not np.any(labels == s):
            movable = np.flatnonzero(np.bincount(labels, minlength=n_sources)[labels] > 1)
            labels[movable[np.argmax(share[s, movable])]] = s
    return [np.flatnonzero(labels == s) for s in range(n_sources)]


def masks(fit, groups, power: float = 2.0) -> np.ndarray:
    W = scaled_for_masks(fit.W, fit.H, power)
    models = np.stack([W[:, g] @ fit.H[g] for g in groups]) ** power
    return models / np.maximum(models.sum(axis=0), 1e-30)


def agreement(V: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Spectrogram-weighted overlap of two sets of masks, sources matched one to one."""
    similarity = np.array([[np.sum(V * np.minimum(x, y)) for y in b] for x in a]) / V.sum()
    rows, columns = scipy.optimize.linear_sum_assignment(similarity, maximize=True)
    return float(similarity[rows, columns].sum())


def recipe(y: np.ndarray, references: np.ndarray, seed: int) -> tuple[float, float]:
    """The scikit-learn recipe's scores: K = S, magnitude-ratio masks."""
    S = len(references)
    W, H = sklearn_nmf(np.abs(librosa.stft(y, n_fft=CONFIG.n_fft, hop_length=CONFIG.hop_length)),
                       S, seed)  # fmt: skip
    return scores(references, masked_sources(y, W, H, range(S), S))


def restarted(spectrogram, n_sources: int, per_source: int, seed: int) -> list:
    """RESTARTS factorizations of per_source components a source, from one seeded generator."""
    fit = dataclasses.replace(Fit(), seed=np.random.default_rng(seed))
    return [nmf(spectrogram.V, per_source * n_sources, fit=fit) for _ in range(RESTARTS)]


def separated(spectrogram, references: np.ndarray, runs, combine=consensus) -> tuple:
    """The consensus of grouped runs (or what ``combine`` makes of them, as
    ``grouping.blind_sources``): its scores, its model and its groups."""
    merged, groups = combine(runs)
    result = Separation(spectrogram, merged, Settings(stft=CONFIG), source_names(groups))
    return scores(references, np.stack(list(result.iter_sources()))), merged, groups


def case(job: tuple[Path, int]) -> dict:
    folder, seed = job
    y, sr, names, references = load_case(folder)
    S = len(names)
    out = {"case": f"{folder.parent.parent.name}/{folder.name}", "sources": S, "seed": seed}
    out["recipe"] = recipe(y, references, seed)
    spectrogram = analyse(y, sr, CONFIG, Sources(S))
    fitted = {}
    for per in (8, 2, 1):
        fits = restarted(spectrogram, S, per, seed)
        label = {8: "default", 2: "K=2S", 1: "K=S"}[per]
        out[label], *fitted[label] = separated(
            spectrogram, references, [(f, grouped(f, sr, S, 0.0)) for f in fits]
        )
        fitted[label].append(float(np.mean([f.losses[-1] for f in fits])))
        if per == 8:
            for weight in WEIGHTS:
                out[f"cues {weight:g}"] = separated(
                    spectrogram, references, [(f, grouped(f, sr, S, weight)) for f in fits]
                )[0]  # fmt: skip
            rng = np.random.default_rng(1000 + seed)
            for beta, name in ((2.0, "nmf euc"), (1.0, "nmf kl")):
                out[name] = separated(
                    spectrogram, references, [(f, nmf_grouped(f, sr, S, beta, rng)) for f in fits]
                )[0]
    V = spectrogram.V.astype(np.float64)
    out["loss_ratio"] = fitted["K=S"][2] / fitted["default"][2]
    out["agreement"] = agreement(V, masks(*fitted["default"][:2]), masks(*fitted["K=S"][:2]))
    print(f"  done {out['case']} seed {seed}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, nargs="+", default=[default])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--max-sources", type=int, default=3)
    parser.add_argument("--cases", nargs="+", help="only these cases (their folder names)")
    args = parser.parse_args()
    folders = [f for data in args.data for f in case_folders(data, args.cases)]
    folders = [f for f in folders if len(load_case(f)[2]) <= args.max_sources]
    with Pool(args.jobs) as pool:
        runs = pool.map(case, [(f, s) for f in folders for s in args.seeds], chunksize=1)
    cases = sorted({r["case"] for r in runs}, key=[r["case"] for r in runs].index)
    methods = ["recipe", "default", "K=2S", "K=S", *(f"cues {w:g}" for w in WEIGHTS)]
    methods += ["nmf euc", "nmf kl"]
    table = {m: np.array([[np.mean([r[m][i] for r in runs if r["case"] == c]) for i in (0, 1)]
                          for c in cases]) for m in methods}  # fmt: skip
    features = {f: np.array([np.mean([r[f] for r in runs if r["case"] == c]) for c in cases])
                for f in ("loss_ratio", "agreement")}  # fmt: skip
    print(f"\n{len(cases)} cases, seeds {args.seeds}: SDR per case, mean over seeds")
    print(f"{'case':<24}" + "".join(f"{m:>10}" for m in methods) + "  loss ratio  agreement")
    for i, c in enumerate(cases):
        ratio, agree = features["loss_ratio"][i], features["agreement"][i]
        row = "".join(f"{table[m][i, 0]:10.2f}" for m in methods)
        print(f"{c:<24}{row}  {ratio:10.2f}  {agree:9.3f}")
    print(f"\n{'method':<12}{'SDR':>7}{'SI-SDR':>8}{'median':>8}{'vs default: mean':>18}"
          f"{'worst':>7}{'better/worse':>14}{'>= recipe':>11}")  # fmt: skip
    for m in methods:
        gain = table[m][:, 0] - table["default"][:, 0]
        print(f"{m:<12}{table[m][:, 0].mean():7.2f}{table[m][:, 1].mean():8.2f}"
              f"{np.median(table[m][:, 0]):8.2f}{gain.mean():+18.2f}{gain.min():+7.2f}"
              f"{int((gain > 0.1).sum()):>7}/{int((gain < -0.1).sum())}"
              f"{int((table[m][:, 0] >= table['recipe'][:, 0]).sum()):>8}"
              f" of {len(cases)}")  # fmt: skip
    halves = {"A": np.arange(len(cases)) % 2 == 0, "B": np.arange(len(cases)) % 2 == 1}
    candidates = ["default", *(f"cues {w:g}" for w in WEIGHTS)]
    for select, held in (("A", "B"), ("B", "A")):
        chosen = max(candidates, key=lambda m: table[m][halves[select], 0].mean())
        print(
            f"cue weight chosen on {select}: {chosen}; on {held}: SDR"
            f" {table[chosen][halves[held], 0].mean():.2f} against the default's"
            f" {table['default'][halves[held], 0].mean():.2f}"
        )


if __name__ == "__main__":
    main()
