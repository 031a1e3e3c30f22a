"""Templates as a classifier of blind components: a lead for issue 24, measured on drums808.

    python benchmarks/bench_template_assignment.py [--data ../shared/data] [--seeds 0 1 2 3 4]

Learnt templates kept fixed explain another kit's drums only as well as their
own spectra fit it. Here the templates only *name* what a free factorization
found: each of 8 restarts fits 8 components per template set with nothing
fixed; each component goes to the set whose templates (learnt with one frame
of context, as the components are) explain its normalised spectrum with the
smallest relative residual of a non-negative least-squares fit; the restarts
are then averaged by name (the same set, the same source), as the blind
consensus averages matched sources. Beside it, blind ``--sources 3`` from the
same restarts. drums808 with 4 templates per drum learnt from
``templates/drums`` (another kit); SDR / SI-SDR (BSS Eval v3, mir_eval) per
seed, the drums matched by name. Not yet the supervised default: the target
asks for other kits and instruments too (rendered pairs, a free ``rest``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import scipy.optimize
from bench_quality import CONFIG, DRUMS, load_case, scores

import nmfaudio
from nmfaudio import Fit, Settings, Sources
from nmfaudio.grouping import _timbre_groups, consensus, source_names
from nmfaudio.nmf import nmf
from nmfaudio.separation import Separation, analyse

RESTARTS = 8
PER_SET = 8


def assigned(W: np.ndarray, sets: list[np.ndarray]) -> list[np.ndarray]:
    """Each set's components: those its templates explain best (relative NNLS residual)."""
    W = W.astype(np.float64) / np.maximum(W.sum(axis=0), 1e-12)
    residual = np.array([
        [scipy.optimize.nnls(T, W[:, k])[1] / np.linalg.norm(W[:, k]) for T in sets]
        for k in range(W.shape[1])
    ])  # fmt: skip
    best = residual.argmin(axis=1)
    return [np.flatnonzero(best == s) for s in range(len(sets))]


def by_name(runs) -> tuple:
    """The runs side by side, activations divided by their number; a source per set."""
    W = np.concatenate([fit.W for fit, _ in runs], axis=1)
    H = np.concatenate([fit.H for fit, _ in runs], axis=0) / len(runs)
    groups: list[list[int]] = [[] for _ in runs[0][1]]
    offset = 0
    for fit, fit_groups in runs:
        for s, members in enumerate(fit_groups):
            groups[s] += (offset + members).tolist()
        offset += fit.W.shape[1]
    return dataclasses.replace(runs[0][0], W=W, H=H), groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    y, sr, names, references = load_case(args.data / "separation" / "drums808")
    spectrogram = analyse(y, sr, CONFIG, Sources(len(DRUMS)))
    rows = {"templates as names": [], "blind --sources 3": []}
    for seed in args.seeds:
        learnt = Settings(stft=CONFIG, fit=Fit(seed=seed))
        sets = []
        for drum in DRUMS:
            files = sorted((args.data / "templates" / "drums" / drum).glob("*.wav"))
            signals = [nmfaudio.load(f, sr=sr)[0] for f in files]
            templates = nmfaudio.learn(signals, sr, 4, name=drum, context=1, settings=learnt)
            sets.append(templates.W.astype(np.float64))
        fit = dataclasses.replace(Fit(), seed=np.random.default_rng(seed))
        fits = [nmf(spectrogram.V, PER_SET * len(DRUMS), fit=fit) for _ in range(RESTARTS)]
        merged, groups = by_name([(f, assigned(f.W, sets)) for f in fits])
        if any(not g for g in groups):
            raise SystemExit(f"seed {seed}: a template set explains no component best")
        sources = dict(zip(DRUMS, groups, strict=True))
        named = Separation(spectrogram, merged, Settings(stft=CONFIG), sources)
        estimates = np.stack(list(named.iter_sources()))
        rows["templates as names"].append(scores(references, estimates, names, list(DRUMS)))
        runs = [(f, _timbre_groups(f.W, sr, CONFIG.n_fft, len(DRUMS))) for f in fits]
        merged, groups = consensus(runs)
        blind = Separation(spectrogram, merged, Settings(stft=CONFIG), source_names(groups))
        rows["blind --sources 3"].append(scores(references, np.stack(list(blind.iter_sources()))))
        print(f"  seed {seed} done", flush=True)
    print(f"\ndrums808, templates from templates/drums, seeds {args.seeds}: SDR / SI-SDR")
    for label, values in rows.items():
        per_seed = "  ".join(f"{sdr:.2f}/{si:.2f}" for sdr, si in values)
        mean = np.mean(values, axis=0)
        print(f"{label:<20} mean {mean[0]:6.2f} / {mean[1]:6.2f}   per seed {per_seed}")


if __name__ == "__main__":
    main()
