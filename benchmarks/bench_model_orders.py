"""Mostly percussive recordings: one consensus over fits of several sizes (issue 24).

    python benchmarks/bench_model_orders.py --data DIR [DIR ...] [--seeds 0 1] [--jobs 2]
                                            [--json FILE]
    python benchmarks/bench_model_orders.py --report FILE [FILE ...]

On a drum kit split into kick, snare and cymbals the recipe's K = S is within a
dB of the default and sometimes above it, where the default loses by
grouping its 8 components a source; K = S fits need no grouping. So, on every
case of at most 3 parts below each ``--data`` folder (as
``bench_simple_case.py`` reads them) whose recording is mostly percussive
(where ``separate_sources`` regroups: ``modes.percussive_share_of`` above
``defaults.MOSTLY_PERCUSSIVE``), each seed:

- ``0.7.0``: what ``separate_sources`` does (8 fits of 8 components a source,
  each grouped ``better_scaled``);
- ``K=S``: the consensus of 8 fits of one component a source (each its own
  source), ``K=2S`` of 2 a source (grouped as 0.7.0's);
- ``0.7.0 + K=S``, ``all three``: one consensus over the 16 or 24 fits
  together (the medoid among all as the reference; each source's model the
  mean of its matches), so that where the grouped fits disagree the ungrouped
  ones pull the mean.

Mean SDR / SI-SDR (BSS Eval v3, mir_eval), per case the mean over seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bench_grouping_cues import grouped, restarted, separated
from bench_simple_case import against_recipe, header, measuring, over_seeds, started

from nmfaudio.defaults import MOSTLY_PERCUSSIVE
from nmfaudio.grouping import better_scaled
from nmfaudio.modes import percussive_share_of

ROWS = ("0.7.0", "K=S", "K=2S", "0.7.0 + K=S", "all three")
WIDTH = 14  # of the rows' names in the report


def case(job: tuple[Path, int]) -> dict:
    out, spectrogram, references = started(job)
    sr, S, seed = spectrogram.sr, len(references), job[1]
    out["share"] = percussive_share_of(spectrogram)
    if out["share"] <= MOSTLY_PERCUSSIVE:
        return out  # separate_sources does not regroup it: nothing to measure
    fits = restarted(spectrogram, S, 8, seed)
    default = better_scaled([(f, grouped(f, sr, S, 0.0)) for f in fits], spectrogram, S)
    ungrouped = [(f, [np.array([s]) for s in range(S)]) for f in restarted(spectrogram, S, 1, seed)]
    double = [(f, grouped(f, sr, S, 0.0)) for f in restarted(spectrogram, S, 2, seed)]
    double = better_scaled(double, spectrogram, S)
    for row, runs in zip(
        ROWS,
        (default, ungrouped, double, default + ungrouped, default + ungrouped + double),
        strict=True,
    ):
        out[row] = separated(spectrogram, references, runs)[0]
    print(f"  done {out['case']} seed {seed}", flush=True)
    return out


def report(runs: list[dict]) -> None:
    cases, table = over_seeds([r for r in runs if ROWS[0] in r], ROWS)
    print(f"\n{len(cases)} mostly percussive cases; per case the mean over seeds")
    print(header(WIDTH))
    everywhere = np.ones(len(cases), bool)
    for row in ("recipe", *ROWS):
        print(against_recipe(row, table[row], table, everywhere, WIDTH))


if __name__ == "__main__":
    measuring(case, report, __doc__.splitlines()[0])
