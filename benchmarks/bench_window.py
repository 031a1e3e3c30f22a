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
- ``mean of ...``: an ensemble over windows, blind: each window's separated
  sources matched one to one to the 93 ms ones (Hungarian algorithm on the
  correlation of the waveforms) and averaged; the parts still add up to the
  input, as each window's do.

Mean SDR / SI-SDR (BSS Eval v3, mir_eval) over a case's sources, per case the
mean over seeds; per kind and for all, each against the recipe (at least it, the
worst gap); then the window chosen on one half of the pieces by mean SDR and
reported on the other.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import numpy as np
import scipy.optimize
from bench_grouping_cues import recipe
from bench_quality import load_case, scores
from bench_simple_case import kind, measured, piece

from nmfaudio import Fit, Settings, Sources, STFTConfig
from nmfaudio.defaults import N_RESTARTS
from nmfaudio.grouping import blind_sources, by_timbre, restarts, source_names
from nmfaudio.modes import percussive_share_of
from nmfaudio.separation import Separation, analyse

WINDOWS = {"23 ms": 0.023, "46 ms": 0.046, "93 ms": 0.093}
REFERENCE = "93 ms"  # what the ensembles match to
ENSEMBLES = (("46 ms", "93 ms"), ("23 ms", "93 ms"), ("23 ms", "46 ms"), tuple(WINDOWS))
FEWER = (3, N_RESTARTS)  # restarts a window in the ensembles: 3 each is about the default's cost


def lasting(seconds: float, sr: int) -> STFTConfig:
    """Frames of about ``seconds``, as the score mode chooses its own (``WithScore.stft``)."""
    n_fft = 2 ** round(np.log2(sr * seconds))
    return STFTConfig(n_fft=n_fft, hop_length=n_fft // 4)


def matched(reference: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """``estimates`` reordered to match ``reference`` one to one by waveform correlation."""
    a, b = (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
            for x in (reference, estimates))  # fmt: skip
    _, order = scipy.optimize.linear_sum_assignment(a @ b.T, maximize=True)
    return estimates[order]


def case(job: tuple[Path, int]) -> dict:
    folder, seed = job
    y, sr, names, references = load_case(folder)
    S = len(names)
    out = {"case": f"{folder.parent.parent.name}/{folder.name}", "seed": seed, "sr": sr}
    out["recipe"] = recipe(y, references, seed)
    separated = {}
    share = None
    for label, seconds in WINDOWS.items():
        settings = Settings(stft=lasting(seconds, sr), fit=Fit(seed=seed))
        mode = Sources(S)
        spectrogram = analyse(y, sr, settings.stft, mode)
        share = percussive_share_of(spectrogram) if share is None else share  # any window's
        # What separate_sources does; the first R restarts are those of n_restarts=R.
        runs = restarts(spectrogram, mode.n_fitted, mode.n_restarts,
                        group=by_timbre(spectrogram, S), settings=settings)  # fmt: skip
        taken = functools.partial(float, share)
        for r in FEWER:
            fit, groups = blind_sources(runs[:r], spectrogram, S, percussive=taken)
            result = Separation(spectrogram, fit, settings, source_names(groups))
            separated[label, r] = np.stack(list(result.iter_sources()))
        out[label] = scores(references, separated[label, mode.n_restarts])
    for labels in ENSEMBLES:
        for r in FEWER:
            reference = separated[REFERENCE, r]
            mean = np.mean([matched(reference, separated[w, r]) for w in labels], axis=0)
            out[ensemble(labels, r)] = scores(references, mean)
    print(f"  done {out['case']} seed {seed}", flush=True)
    return out


def ensemble(labels: tuple[str, ...], restarts: int) -> str:
    each = "" if restarts == N_RESTARTS else f", {restarts} restarts each"
    return f"mean of {' + '.join(labels)}{each}"


def report(runs: list[dict]) -> None:
    for run in runs:  # the default's frames: 2048 samples, whatever the rate
        run["2048 samples"] = run["93 ms" if run["sr"] < 32000 else "46 ms"]
    cases = sorted({r["case"] for r in runs})
    per_case = {c: [r for r in runs if r["case"] == c] for c in cases}
    rules = ["2048 samples", *WINDOWS, *(ensemble(e, r) for r in FEWER for e in ENSEMBLES)]
    table = {
        rule: np.array([np.mean([r[rule] for r in per_case[c]], axis=0) for c in cases])
        for rule in ("recipe", *rules)
    }
    kinds = np.array([kind(c) for c in cases])
    pieces = [piece(c) for c in cases]
    half_of = {p: i % 2 for i, p in enumerate(sorted(set(pieces)))}
    halves = {h: np.array([half_of[p] == i for p in pieces]) for i, h in enumerate("AB")}

    def line(rule: str, subset: np.ndarray) -> str:
        sdr, si_sdr = table[rule][subset, 0], table[rule][subset, 1]
        over = sdr - table["recipe"][subset, 0]
        return (
            f"{rule:<48}{sdr.mean():7.2f}{si_sdr.mean():8.2f}{np.median(sdr):8.2f}"
            f"{int((over >= 0).sum()):>6}/{len(sdr):<4}{over.min():+8.2f}"
        )

    seeds = sorted({r["seed"] for r in runs})
    print(f"\n{len(cases)} cases of 2-3 parts, seeds {seeds}; per case the mean over seeds")
    print(f"{'':<48}{'SDR':>7}{'SI-SDR':>8}{'median':>8}{'>= recipe':>10}{'worst':>8}")
    for group in ("kit", "drums+part", "other", "all"):
        subset = np.ones(len(cases), bool) if group == "all" else kinds == group
        if subset.any():
            print(f"-- {group}: {int(subset.sum())} cases")
            for rule in ("recipe", *rules):
                print(line(rule, subset))
    print("\nChosen on one half by mean SDR, reported on the other (the default beside it):")
    for select, held in (("A", "B"), ("B", "A")):
        for family in (list(WINDOWS), rules):
            best = max(family, key=lambda r: table[r][halves[select], 0].mean())
            print(f"on {select}, among {len(family)}, {best}; on {held}:")
            print("  " + line(best, halves[held]))
            print("  " + line("2048 samples", halves[held]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--report", type=Path, nargs="+", help="only report saved --json runs")
    args = parser.parse_args()
    if args.report:
        return report([run for saved in args.report for run in json.loads(saved.read_text())])
    report(measured(case, args))


if __name__ == "__main__":
    main()
