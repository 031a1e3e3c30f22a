"""Templates learnt on other notes or another kit: how far to transpose them, cross-validated.

    python benchmarks/bench_template_pairs.py --data DIR [DIR ...] [--seeds 0 1] [--jobs 2]
                                              [--semitones 0 1 2 3 4 5 7 12]
                                              [--check DIR ... | --rest N]

The choice of ``nmfaudio.defaults.NAMING_SEMITONES`` (issue 24): before they
name components, :class:`nmfaudio.WithTemplates`'s templates are also
transposed by each whole semitone up to that many either way
(``nmfaudio.grouping.transposed``). Three kinds of case, 4 templates per part
(``nmfaudio.learn``'s defaults):

- *pairs*: templates learnt on one piece's parts name another piece's with
  exactly the same parts (no rest): every ordered pair of such pieces among
  the ``rendered/`` cases below each ``--data`` folder (the shared ones and
  more rendered with ``make_midi_corpus.py`` at other seeds);
- *kits*: the drums of one piece of ``bench_template_assignment.py``'s kit ring
  name the next piece's (another General MIDI kit), the other parts the rest;
- *drums808*: ``templates/drums/{kick,snare,hihat}`` of the first ``--data``
  folder on ``separation/drums808`` (another kit than the loop's).

Names, from every range of ``--semitones``, and blind ``separate_sources``
(best permutation) group the *same* factorizations: the 8 restarts of one
seed are those of both (same seed, same number of components), so each case
and seed is factorized once. On pairs also ``fixed`` templates and the blind
split named one to one by the sets (``grouping.named_sources``), both
untransposed. Mean SDR / SI-SDR (BSS Eval v3, mir_eval) per run.

Cross-validation: the instrument combinations of the pairs, sorted, alternate
between halves A and B (every piece of a combination in one half), and so do
the kit pairs. On each half the range of highest mean SDR over its pairs and
kit pairs is chosen (a range within 0.05 dB of it and smaller wins), among
those that keep drums808 at 17 dB or more (issue 24's target), and reported on
the other half. Tables per half and over all pairs: mean over runs, and per
case the mean over seeds: median, worst, how many are at least blind (within
0.1 dB), the worst gap to blind.

``--check DIR``: instead, the choice checked on pieces it was not made on
(rendered at another seed, below DIR): every pair whose second piece is one of
them, the first any piece of ``--data`` or DIR with the same parts, in one table.
``--rest N``: instead, N pairs with a rest: for each piece in turn, the first
other piece (in the order of ``--data``) that has at least two of its parts but not all;
templates of the parts they share, the piece's other parts its rest (4 free
components each), scored against those parts and the sum of the others.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from bench_quality import DRUMS, drum_one_shots, load_case, scores, templates_between
from bench_template_assignment import KIT_RING

import nmfaudio
import nmfaudio.grouping as grouping
from nmfaudio import Fit, Settings
from nmfaudio.defaults import N_RESTARTS
from nmfaudio.modes import WithTemplates
from nmfaudio.separation import Separation, analyse

DRUMS808_TARGET = 17.0
TIE = 0.05


def case_sets(kind: str, train: Path, test: Path, settings: Settings):
    """The template sets, the references they are scored against and their names, n_extra."""
    if kind != "drums808":  # pairs: every part; kits: the drums; rest: the parts shared
        return templates_between(train, test, settings, ["drums"] if kind == "kits" else None)
    y, sr, names, references = load_case(test)
    sets = [
        nmfaudio.learn(drum_one_shots(train, d, sr), sr, 4, name=d, settings=settings)
        for d in DRUMS
    ]
    return y, sr, sets, references, names, 0


def run(job: tuple[str, Path, Path, int, tuple[int, ...]]) -> dict:
    kind, train, test, seed, ranges = job
    settings = Settings(fit=Fit(seed=seed))
    y, sr, sets, targets, target_names, n_extra = case_sets(kind, train, test, settings)
    mode = WithTemplates(sets, n_extra=n_extra)
    settings = dataclasses.replace(settings, stft=mode.stft(settings, sr))
    spectrogram = analyse(y, sr, settings.stft, mode)
    n_sources = len(mode.source_names())
    runs = grouping.restarts(  # those of WithTemplates and of blind separate_sources
        spectrogram, mode.n_fitted, N_RESTARTS, group=grouping.by_timbre(spectrogram, n_sources),
        settings=settings,
    )  # fmt: skip
    blind, blind_groups = grouping.consensus(runs)

    def separated(fit, groups, names=None) -> tuple[float, float]:
        sources = dict(zip(names or [f"{i}" for i in range(len(groups))], groups, strict=True))
        estimates = np.stack(list(Separation(spectrogram, fit, settings, sources).iter_sources()))
        return scores(targets, estimates, *(() if names is None else (target_names, names)))

    def named(spectra, rest: bool) -> tuple[float, float]:
        result, groups = grouping.by_templates(runs, spectra, rest=rest)
        return separated(result, groups, mode.source_names())

    out = {"kind": kind, "train": str(train), "test": str(test), "seed": seed}
    out["blind"] = separated(blind, blind_groups)
    for semitones in ranges:  # as WithTemplates names, at each range
        out[semitones] = named(
            [grouping.transposed(t.spectra, semitones) for t in sets], n_extra > 0
        )
    if kind == "pairs":
        out["split named"] = named([t.spectra for t in sets], rest=True)  # no group is left over
        fixed = nmfaudio.separate_with_templates(y, sr, sets, use="fixed", settings=settings)
        out["fixed"] = scores(
            targets, np.stack(list(fixed.iter_sources())), target_names, list(fixed.sources)
        )
    cells = "  ".join(f"{m}: {out[m][0]:.2f}" for m in ["blind", *ranges])
    print(f"  {kind} {train and train.name} -> {test.parent.parent.name}/{test.name} seed {seed}:"
          f" {cells}", flush=True)  # fmt: skip
    return out


def rendered(folders: list[Path]) -> list[Path]:
    """The pieces below each folder's ``rendered/``, folder by folder."""
    return [c for data in folders for c in sorted((data / "rendered").iterdir()) if c.is_dir()]


def pieces_by_parts(folders: list[Path]) -> dict[tuple, list[Path]]:
    by_parts = defaultdict(list)
    for case in rendered(folders):
        by_parts[tuple(load_case(case)[2])].append(case)
    return by_parts


def check_cases(folders: list[Path], check: list[Path]) -> list:
    """The pairs whose second piece is below ``check``, the first any other with its parts."""
    by_parts = pieces_by_parts(folders + check)
    new = [p for p in itertools.chain(*by_parts.values()) if p.parent.parent in check]
    return [("pairs", a, b) for b in new for a in by_parts[tuple(load_case(b)[2])] if a != b]


def rest_cases(folders: list[Path]) -> list:
    """For each piece, the first other with at least two of its parts but not all: a rest."""
    parts = {p: set(load_case(p)[2]) for p in rendered(folders)}
    out = []
    for test in parts:
        for train in parts:
            if (
                train != test
                and len(parts[test] & parts[train]) >= 2
                and parts[test] - parts[train]
            ):
                out.append(("rest", train, test))
                break
    return out


def cases(folders: list[Path]) -> tuple[list, dict]:
    """(kind, train, test) of every case, and each one's half ("A" or "B"; drums808: none)."""
    by_parts = pieces_by_parts(folders)
    out, half = [], {}
    shared = folders[0]
    out.append(("drums808", shared, shared / "separation" / "drums808"))
    ring = [shared / "rendered" / c for c in KIT_RING]
    for i, (a, b) in enumerate(zip(ring, ring[1:] + ring[:1], strict=True)):
        out.append(("kits", a, b))
        half[out[-1]] = "AB"[i % 2]
    combinations = sorted(parts for parts, pieces in by_parts.items() if len(pieces) > 1)
    for i, parts in enumerate(combinations):
        for a, b in itertools.permutations(by_parts[parts], 2):
            out.append(("pairs", a, b))
            half[out[-1]] = "AB"[i % 2]
    return out, half


def table(runs: list[dict], methods: list, title: str) -> None:
    by_case = defaultdict(list)
    for r in runs:
        by_case[(r["kind"], r["train"], r["test"])].append(r)
    per_case = {m: np.array([np.mean([r[m][0] for r in rs]) for rs in by_case.values()])
                for m in methods}  # fmt: skip
    print(f"\n{title}: {len(by_case)} cases, {len(runs)} runs")
    print(f"{'method':<14}{'SDR':>7}{'SI-SDR':>8}{'median':>8}{'worst':>7}{'>= blind':>10}"
          f"{'worst vs blind':>16}")  # fmt: skip
    for m in methods:
        sdr, si_sdr = np.mean([r[m] for r in runs], axis=0)
        gain = per_case[m] - per_case["blind"]
        label = f"names, ±{m}" if isinstance(m, int) else m
        print(f"{label:<14}{sdr:7.2f}{si_sdr:8.2f}{np.median(per_case[m]):8.2f}"
              f"{per_case[m].min():7.2f}{int((gain >= -0.1).sum()):>5} of {len(gain):<3}"
              f"{gain.min():+13.2f}")  # fmt: skip


def choose(runs: list[dict], ranges: tuple[int, ...], allowed: list[int]) -> int:
    """The range of highest mean SDR over the runs; the smallest within TIE of it."""
    means = {s: np.mean([r[s][0] for r in runs]) for s in allowed}
    best = max(means.values())
    return min(s for s in allowed if means[s] >= best - TIE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--semitones", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 7, 12])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--check", type=Path, nargs="+", help="instead: the choice's check")
    parser.add_argument("--rest", type=int, metavar="N", help="instead: N pairs with a rest")
    args = parser.parse_args()
    ranges = tuple(sorted(set(args.semitones) | {0}))  # 0: the templates as learnt
    if args.check or args.rest:
        some, title = (
            (check_cases(args.data, args.check), "pairs onto pieces the choice did not see")
            if args.check
            else (rest_cases(args.data)[: args.rest], "pairs with a rest")
        )
        print(f"{len(some)} {title}, seeds {args.seeds}, ranges {ranges}")
        with Pool(args.jobs) as pool:
            runs = pool.map(run, [(*c, s, ranges) for c in some for s in args.seeds], chunksize=1)
        table(runs, ["blind", *ranges], title)
        return
    all_cases, half = cases(args.data)
    print(f"{len(all_cases)} cases, seeds {args.seeds}, ranges {ranges}")
    jobs = [(*case, seed, ranges) for case in all_cases for seed in args.seeds]
    with Pool(args.jobs) as pool:
        runs = pool.map(run, jobs, chunksize=1)
    for r, job in zip(runs, jobs, strict=True):
        r["half"] = half.get(job[:3])
    drums808 = [r for r in runs if r["kind"] == "drums808"]
    table(drums808, ["blind", *ranges], "drums808")
    allowed = [s for s in ranges if np.mean([r[s][0] for r in drums808]) >= DRUMS808_TARGET]
    pairs = ["blind", *ranges, "fixed", "split named"]
    for h in "AB":
        for kind, methods in (("pairs", pairs), ("kits", ["blind", *ranges])):
            table([r for r in runs if r["half"] == h and r["kind"] == kind], methods,
                  f"half {h}, {kind}")  # fmt: skip
    table([r for r in runs if r["kind"] == "pairs"], pairs, "all pairs")
    print(f"\nranges keeping drums808 >= {DRUMS808_TARGET:g} dB: {allowed}")
    for h, other in ("AB", "BA"):
        chosen = choose([r for r in runs if r["half"] == h], ranges, allowed)
        held = [r for r in runs if r["half"] == other]
        gains = [np.mean([r[s][0] for r in held]) for s in (chosen, 0, "blind")]
        print(f"chosen on {h}: ±{chosen}; on {other}: {gains[0]:.2f} dB against"
              f" ±0 {gains[1]:.2f}, blind {gains[2]:.2f}")  # fmt: skip
    both = choose([r for r in runs if r["half"]], ranges, allowed)
    print(f"chosen on both halves: ±{both}")


if __name__ == "__main__":
    main()
