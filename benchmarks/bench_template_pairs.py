"""Templates of the same instruments from another piece, no rest: naming candidates beside blind.

    python benchmarks/bench_template_pairs.py --data DIR [DIR ...] [--seeds 0 1] [--jobs 2]

Issue 24's pitched weakness: templates learnt on one piece's parts, applied to
another piece with exactly the same parts (no rest), every ordered pair of
such pieces among the ``rendered/`` cases below each ``--data`` folder (the
shared ones and more rendered with ``make_midi_corpus.py`` at other seeds).
4 templates per part (``nmfaudio.learn``'s defaults); methods:

- ``names`` (the default), ``fixed``: :class:`nmfaudio.WithTemplates`;
- ``names transposed``: names, with every set's spectra also stretched along
  frequency by each whole semitone up to an octave either way before the
  misfit (a candidate: templates learnt on other notes);
- ``split named``: the blind split of ``separate_sources``, each source named
  one to one by the set that explains it best (``grouping.named_sources``);
- ``blind``: ``separate_sources`` scored under the best permutation.

Mean SDR / SI-SDR (BSS Eval v3, mir_eval) per run; then the mean over runs,
and per pair the mean over seeds: median, worst, and on how many pairs each is
at least blind (within 0.1 dB).
"""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from bench_quality import load_case, scores

import nmfaudio
import nmfaudio.grouping
from nmfaudio import Fit, Settings

SEMITONES = 12
METHODS = ("names", "names transposed", "fixed", "split named", "blind")
TEMPLATE_MISFIT = nmfaudio.grouping.template_misfit  # the library's, before the candidate


def transposed(T: np.ndarray) -> np.ndarray:
    """The spectra and their copies stretched by every semitone up to an octave either way."""
    bins = np.arange(T.shape[0], dtype=np.float64)
    return np.concatenate(
        [np.stack([np.interp(bins / 2 ** (s / 12), bins, t, right=0.0) for t in T.T], axis=1)
         for s in range(-SEMITONES, SEMITONES + 1)], axis=1,
    )  # fmt: skip


def transposed_misfit(W: np.ndarray, spectra) -> np.ndarray:
    """nmfaudio.grouping.template_misfit with each set transposed."""
    return TEMPLATE_MISFIT(W, [transposed(np.asarray(T, dtype=np.float64)) for T in spectra])


def pair(job: tuple[Path, Path, int]) -> dict:
    train, test, seed = job
    _, train_sr, train_names, train_refs = load_case(train)
    y, sr, names, references = load_case(test)
    settings = Settings(fit=Fit(seed=seed))
    sets = [
        nmfaudio.learn([train_refs[train_names.index(n)]], train_sr, 4, name=n, settings=settings)
        for n in names
    ]
    out: dict = {"train": str(train), "test": str(test), "seed": seed}

    def named(use: str) -> tuple[float, float]:
        result = nmfaudio.separate_with_templates(y, sr, sets, use=use, settings=settings)
        return scores(
            references, np.stack(list(result.iter_sources())), names, list(result.sources)
        )

    out["names"], out["fixed"] = named("names"), named("fixed")
    nmfaudio.grouping.template_misfit = transposed_misfit  # named_components looks it up here
    try:
        out["names transposed"] = named("names")
    finally:
        nmfaudio.grouping.template_misfit = TEMPLATE_MISFIT
    blind = nmfaudio.separate_sources(y, sr, len(names), settings=settings)
    estimates = np.stack(list(blind.iter_sources()))
    out["blind"] = scores(references, estimates)
    groups = list(blind.sources.values())
    estimate_names = [""] * len(names)
    for s, g in enumerate(
        nmfaudio.grouping.named_sources(blind.fit, groups, [t.spectra for t in sets])
    ):
        estimate_names[g] = names[s]
    out["split named"] = scores(references, estimates, names, estimate_names)
    cells = "  ".join(f"{m} {out[m][0]:.2f}" for m in METHODS)
    print(f"  {train.parent.parent.name}/{train.name} -> {test.parent.parent.name}/{test.name}"
          f" seed {seed}: {cells}", flush=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    by_parts = defaultdict(list)
    for data in args.data:
        for case in sorted((data / "rendered").iterdir()):
            if case.is_dir():
                by_parts[tuple(load_case(case)[2])].append(case)
    pairs = [p for cases in by_parts.values() for p in itertools.permutations(cases, 2)]
    print(f"{len(pairs)} ordered pairs of pieces with the same parts, seeds {args.seeds}")
    with Pool(args.jobs) as pool:
        runs = pool.map(pair, [(a, b, s) for a, b in pairs for s in args.seeds], chunksize=1)

    def mean_over_seeds(m: str, a: Path, b: Path) -> float:
        key = (str(a), str(b))
        return float(np.mean([r[m][0] for r in runs if (r["train"], r["test"]) == key]))

    per_pair = {m: np.array([mean_over_seeds(m, a, b) for a, b in pairs]) for m in METHODS}
    print(f"\n{'method':<18}{'SDR':>7}{'SI-SDR':>8}{'median':>8}{'worst':>7}"
          f"{'>= blind':>10}{'worst vs blind':>16}")  # fmt: skip
    for m in METHODS:
        sdr, si_sdr = np.mean([r[m] for r in runs], axis=0)
        gain = per_pair[m] - per_pair["blind"]
        print(f"{m:<18}{sdr:7.2f}{si_sdr:8.2f}{np.median(per_pair[m]):8.2f}{per_pair[m].min():7.2f}"
              f"{int((gain >= -0.1).sum()):>5} of {len(pairs)}{gain.min():+16.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
