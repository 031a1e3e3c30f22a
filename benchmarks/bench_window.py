"""The STFT window of ``--sources``, in seconds (issue 24).

    python benchmarks/bench_window.py --data DIR [DIR ...] [--seeds 0 1] [--jobs 2]
                                      [--json FILE]
    python benchmarks/bench_window.py --report FILE [FILE ...]

``--sources`` analyses with 2048-sample frames at every rate: 93 ms at 22.05
kHz, 46 ms at 44.1 kHz. The 2-3 part targets of issue 24 were met on the check
set rendered at 44.1 kHz and not on the same pieces at 22.05 kHz; the score mode
chose its window in seconds. So, on every case of at most 3 parts below each
``--data`` folder (as ``bench_simple_case.py`` reads them, with its kinds of case
and its halves), each seed:

- ``recipe``: the scikit-learn recipe at 2048/512, the issue's;
- ``23 ms``, ``46 ms``, ``93 ms``: what ``separate_sources`` makes of the
  recording with frames of the power of two of samples nearest that duration,
  the hop a quarter of it (512, 1024, 2048 samples at 22.05 kHz; 1024, 2048,
  4096 at 44.1 kHz);
- ``2048 samples``: the default, assembled from the rows above (93 ms at 22.05
  kHz, 46 ms at 44.1 kHz);
- ``mean of ...``: an ensemble over windows, blind, as ``Sources(windows=...)``
  makes it (``nmfaudio.separation.averaged``): each window's separated sources
  matched one to one to those of its longest window (Hungarian algorithm on the
  cosine similarity of their models, ``nmfaudio.grouping.matched_sources``) and
  averaged; the parts still add up to the input, as each window's do. Each
  window with 8 restarts, or fewer: 3 each, or the default's 8 fits split
  across the windows (4 each; 3, 2, 3).

Mean SDR / SI-SDR (BSS Eval v3, mir_eval) over a case's sources, per case the
mean over seeds; per kind and for all, each against the recipe (at least it, the
worst gap); then the window chosen on one half of the pieces by mean SDR and
reported on the other, among the windows, among all rows, and among the rows
that fit no more than the default (8 fits).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from bench_quality import scores
from bench_simple_case import (
    against_recipe,
    begun,
    by_kind,
    halves,
    header,
    introduce,
    measuring,
    over_seeds,
)

from nmfaudio import Fit, Settings, Sources, STFTConfig
from nmfaudio.defaults import N_RESTARTS
from nmfaudio.grouping import blind_sources, by_timbre, restarts, source_names
from nmfaudio.modes import percussive_share_of
from nmfaudio.separation import Separation, analyse, averaged

WINDOWS = {"23 ms": 0.023, "46 ms": 0.046, "93 ms": 0.093}
PAIRS = (("46 ms", "93 ms"), ("23 ms", "93 ms"), ("23 ms", "46 ms"), tuple(WINDOWS))
# Each ensemble: its windows' restarts. 8 fits in all is the default's cost (a window costs
# about the same at every length).
ENSEMBLES = (
    *({w: n for w in windows} for n in (3, 4, N_RESTARTS) for windows in PAIRS),
    {"23 ms": 3, "46 ms": 2, "93 ms": 3},
)
#: Each window's consensus of the first R restarts, for every R an ensemble takes.
RESTARTS = sorted({n for e in ENSEMBLES for n in e.values()} | {N_RESTARTS})
WIDTH = 48  # of the rules' names in the report


def parts(result: Separation) -> np.ndarray:
    return np.stack(list(result.iter_sources()))


def case(job: tuple[Path, int]) -> dict:
    out, y, sr, references = begun(job)
    seed, S = job[1], len(references)
    out["sr"] = sr
    mode = Sources(S, windows=None)
    separated = {}
    share = None
    for label, seconds in WINDOWS.items():
        settings = Settings(stft=STFTConfig.lasting(seconds, sr), fit=Fit(seed=seed))
        spectrogram = analyse(y, sr, settings.stft, mode)
        if share is None:  # the recording's, the same from any window's spectrogram
            share = functools.partial(float, percussive_share_of(spectrogram))
        # What separate_sources does; the first R restarts are those of n_restarts=R.
        runs = restarts(spectrogram, mode.n_fitted, mode.n_restarts,
                        group=by_timbre(spectrogram, S), settings=settings)  # fmt: skip
        for r in RESTARTS:
            fit, groups = blind_sources(runs[:r], spectrogram, S, percussive=share)
            separated[label, r] = Separation(spectrogram, fit, settings, source_names(groups))
        out[label] = scores(references, parts(separated[label, N_RESTARTS]))
    for restarts_of in ENSEMBLES:
        longest_first = sorted(restarts_of.items(), key=lambda item: -WINDOWS[item[0]])
        result = averaged([separated[item] for item in longest_first])
        out[ensemble(restarts_of)] = scores(references, parts(result))
    print(f"  done {out['case']} seed {seed}", flush=True)
    return out


def ensemble(restarts_of: dict[str, int]) -> str:
    """The row's name: "mean of 23 ms + 93 ms, 4 restarts each"."""
    counts = set(restarts_of.values())
    if len(counts) > 1:
        return "mean of " + " + ".join(f"{w} ({n})" for w, n in restarts_of.items())
    (n,) = counts
    each = "" if n == N_RESTARTS else f", {n} restarts each"
    return f"mean of {' + '.join(restarts_of)}{each}"


def report(runs: list[dict]) -> None:
    for run in runs:  # the default's frames: 2048 samples, whatever the rate
        run["2048 samples"] = run["93 ms" if run["sr"] < 32000 else "46 ms"]
    # Runs saved before the ensembles of 8 fits in all were measured have none of them.
    ensembles = [ensemble(e) for e in ENSEMBLES if ensemble(e) in runs[0]]
    rules = ["2048 samples", *WINDOWS, *ensembles]
    at_cost = ["2048 samples", *WINDOWS] + [
        ensemble(e) for e in ENSEMBLES if sum(e.values()) <= N_RESTARTS and ensemble(e) in runs[0]
    ]
    cases, table = over_seeds(runs, rules)
    halved = halves(cases)

    def line(rule: str, subset: np.ndarray) -> str:
        return against_recipe(rule, table[rule], table, subset, WIDTH)

    introduce(runs, cases)
    print(header(WIDTH))
    for group, subset in by_kind(cases):
        print(f"-- {group}: {int(subset.sum())} cases")
        for rule in ("recipe", *rules):
            print(line(rule, subset))
    print("\nChosen on one half by mean SDR, reported on the other (the default beside it):")
    for select, held in (("A", "B"), ("B", "A")):
        for family in (list(WINDOWS), rules, at_cost):
            best = max(family, key=lambda r: table[r][halved[select], 0].mean())
            print(f"on {select}, among {len(family)}, {best}; on {held}:")
            print("  " + line(best, halved[held]))
            print("  " + line("2048 samples", halved[held]))


if __name__ == "__main__":
    measuring(case, report, __doc__.splitlines()[0])
