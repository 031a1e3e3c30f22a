"""Templates as a classifier of blind components: a lead for issue 24, measured on drums808.

    python benchmarks/bench_template_assignment.py [--data ../shared/data] [--seeds 0 1 2 3 4]
    python benchmarks/bench_template_assignment.py --pairs [--seeds 0 1]

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

``--pairs``: the supervised target's pairs, as the default separates them today.
Six rendered development pieces, each with another General MIDI drum kit
(standard, room, power, electronic, TR-808, jazz: programs 0, 8, 16, 24, 25,
32); 4 drum templates learnt from one piece's drum stem, applied to the next
piece in the ring with ``--extra`` 4 free components per other part for the
rest (``separate_with_templates``, the templates fixed, and with ``adapt``),
against blind ``--sources 2`` on the same piece, scored under the best
permutation and under the names the drum templates give its sources; all
scored against the drums and the sum of the other parts.
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
#: One development piece per drum kit (its program), in a ring: each teaches the next.
KIT_RING = ("case_002", "case_004", "case_000", "case_003", "case_014", "case_006")


def residuals(W: np.ndarray, sets: list[np.ndarray]) -> np.ndarray:
    """(n_components, n_sets): how badly each set's templates explain each component's
    normalised spectrum (relative residual of a non-negative least-squares fit)."""
    W = W.astype(np.float64) / np.maximum(W.sum(axis=0), 1e-12)
    return np.array([
        [scipy.optimize.nnls(T, W[:, k])[1] / max(np.linalg.norm(W[:, k]), 1e-12) for T in sets]
        for k in range(W.shape[1])
    ])  # fmt: skip


def assigned(W: np.ndarray, sets: list[np.ndarray]) -> list[np.ndarray]:
    """Each set's components: those its templates explain best."""
    best = residuals(W, sets).argmin(axis=1)
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


def pair(data: Path, train: str, test: str, seed: int) -> dict[str, tuple[float, float]]:
    """Drum templates from ``train`` on ``test``: fixed, adapted, and blind beside them."""
    _, train_sr, train_names, train_refs = load_case(data / "rendered" / train)
    y, sr, names, references = load_case(data / "rendered" / test)
    drums = nmfaudio.learn(
        [train_refs[train_names.index("drums")]], train_sr, 4, name="drums",
        settings=Settings(fit=Fit(seed=seed)),
    )  # fmt: skip
    others = [i for i, n in enumerate(names) if n != "drums"]
    targets = np.stack([references[names.index("drums")], references[others].sum(axis=0)])
    out = {}
    for label, adapt in (("fixed", False), ("adapt", True)):
        result = nmfaudio.separate_with_templates(
            y, sr, [drums], n_extra=4 * len(others), adapt=adapt,
            settings=Settings(fit=Fit(seed=seed)),
        )  # fmt: skip
        estimates = np.stack(list(result.iter_sources()))
        out[label] = scores(targets, estimates, ["drums", "rest"], list(result.sources))
    blind = nmfaudio.separate_sources(y, sr, 2, settings=Settings(fit=Fit(seed=seed)))
    estimates = np.stack(list(blind.iter_sources()))
    out["blind --sources 2"] = scores(targets, estimates)
    # The blind sources named: the drums are the source whose components the drum templates
    # explain best (their residuals weighted by the components' activations).
    frames = drums.W.shape[0] // drums.context
    spectra = drums.W.reshape(drums.context, frames, -1).mean(axis=0).astype(np.float64)
    misfit, energy = residuals(blind.W, [spectra])[:, 0], blind.H.sum(axis=1)
    fits = [np.average(misfit[m], weights=energy[m]) for m in blind.sources.values()]
    drum = int(np.argmin(fits))
    out["blind, named"] = scores(targets, estimates[[drum, 1 - drum]], ["drums", "rest"],
                                 ["drums", "rest"])  # fmt: skip
    return out


def pairs(args: argparse.Namespace) -> None:
    rows: dict[str, list] = {}
    for train, test in zip(KIT_RING, KIT_RING[1:] + KIT_RING[:1], strict=True):
        for seed in args.seeds:
            row = pair(args.data, train, test, seed)
            for label, value in row.items():
                rows.setdefault(label, []).append(value)
            cells = "   ".join(f"{k} {v[0]:6.2f}/{v[1]:6.2f}" for k, v in row.items())
            print(f"{train} -> {test} seed {seed}: {cells}", flush=True)
    blind = np.array(rows["blind --sources 2"])[:, 0]
    print(f"\n{len(blind)} runs (6 pairs, seeds {args.seeds}), mean SDR / SI-SDR:")
    for label, values in rows.items():
        values = np.array(values)
        print(f"  {label:<18} {values[:, 0].mean():6.2f} / {values[:, 1].mean():6.2f}   median"
              f" {np.median(values[:, 0]):6.2f}, worst {values[:, 0].min():6.2f}, at least"
              f" blind on {int(np.sum(values[:, 0] >= blind - 1e-9))} of {len(blind)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--pairs", action="store_true", help="the six cross-kit pairs")
    args = parser.parse_args()
    if args.pairs:
        pairs(args)
        return
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
