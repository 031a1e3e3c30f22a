"""Templates of one drum kit on another kit's recording: every use of them beside blind.

    python benchmarks/bench_template_assignment.py [--data ../shared/data] [--seeds 0 1]

The supervised target of issue 24: learnt templates applied to another kit
than they were learnt from must not do worse than asking for nothing. Six
rendered development pieces, each with another General MIDI drum kit
(standard, room, power, electronic, TR-808, jazz: programs 0, 8, 16, 24, 25,
32), in a ring: 4 drum templates learnt from one piece's drum stem
(``nmfaudio.learn``, its defaults) are applied to the next piece with
``n_extra`` = 4 free components per other part for the rest, with each
``use`` of :class:`nmfaudio.WithTemplates` (names, the default; fixed;
adapted), beside blind ``separate_sources(y, sr, 2)`` scored under the best
permutation. Everything is scored against the drums and the sum of the
other parts: mean SDR / SI-SDR (BSS Eval v3, mir_eval) per run, then the
mean, median and worst over the runs and on how many runs each is at least
blind, and the time each takes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench_quality import scores, templates_between

import nmfaudio
from nmfaudio import Fit, Settings
from nmfaudio.defaults import TEMPLATE_USES

#: One development piece per drum kit (its program), in a ring: each teaches the next.
KIT_RING = ("case_002", "case_004", "case_000", "case_003", "case_014", "case_006")
BLIND = "blind --sources 2"


def pair(data: Path, train: str, test: str, seed: int) -> dict[str, tuple[float, float, float]]:
    """Drum templates from ``train`` on ``test``: (SDR, SI-SDR, seconds) of each method."""
    settings = Settings(fit=Fit(seed=seed))
    y, sr, sets, targets, target_names, n_extra = templates_between(
        data / "rendered" / train, data / "rendered" / test, settings, ["drums"]
    )
    out = {}
    for use in TEMPLATE_USES:
        start = time.perf_counter()
        result = nmfaudio.separate_with_templates(
            y, sr, sets, n_extra=n_extra, use=use, settings=settings
        )
        seconds = time.perf_counter() - start
        estimates = np.stack(list(result.iter_sources()))
        out[use] = (*scores(targets, estimates, target_names, list(result.sources)), seconds)
    start = time.perf_counter()
    blind = nmfaudio.separate_sources(y, sr, 2, settings=settings)
    seconds = time.perf_counter() - start
    out[BLIND] = (*scores(targets, np.stack(list(blind.iter_sources()))), seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    rows: dict[str, list] = {}
    for train, test in zip(KIT_RING, KIT_RING[1:] + KIT_RING[:1], strict=True):
        for seed in args.seeds:
            row = pair(args.data, train, test, seed)
            for label, value in row.items():
                rows.setdefault(label, []).append(value)
            cells = "   ".join(f"{k} {v[0]:6.2f}/{v[1]:6.2f}" for k, v in row.items())
            print(f"{train} -> {test} seed {seed}: {cells}", flush=True)
    blind = np.array(rows[BLIND])[:, 0]
    print(f"\n{len(blind)} runs (6 pairs, seeds {args.seeds}), mean SDR / SI-SDR:")
    for label, values in rows.items():
        values = np.array(values)
        print(f"  {label:<18} {values[:, 0].mean():6.2f} / {values[:, 1].mean():6.2f}   median"
              f" {np.median(values[:, 0]):6.2f}, worst {values[:, 0].min():6.2f}, at least"
              f" blind on {int(np.sum(values[:, 0] >= blind - 1e-9))} of {len(blind)},"
              f" {values[:, 2].mean():5.1f} s a run")  # fmt: skip


if __name__ == "__main__":
    main()
