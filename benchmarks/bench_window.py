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

import functools
from pathlib import Path

import numpy as np
import scipy.optimize
from bench_quality import scores
from bench_simple_case import against_recipe, begun, halves, header, kind, measuring, over_seeds

from nmfaudio import Fit, Settings, Sources, STFTConfig
from nmfaudio.defaults import N_RESTARTS
from nmfaudio.grouping import blind_sources, by_timbre, restarts, source_names
from nmfaudio.modes import percussive_share_of
from nmfaudio.separation import Separation, analyse

WINDOWS = {"23 ms": 0.023, "46 ms": 0.046, "93 ms": 0.093}
REFERENCE = "93 ms"  # what the ensembles match to
ENSEMBLES = (("46 ms", "93 ms"), ("23 ms", "93 ms"), ("23 ms", "46 ms"), tuple(WINDOWS))
WIDTH = 48  # of the rules' names in the report
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
    out, y, sr, references = begun(job)
    seed, S = job[1], len(references)
    out["sr"] = sr
    mode = Sources(S)
    separated = {}
    share = None
    for label, seconds in WINDOWS.items():
        settings = Settings(stft=lasting(seconds, sr), fit=Fit(seed=seed))
        spectrogram = analyse(y, sr, settings.stft, mode)
        if share is None:  # the recording's, the same from any window's spectrogram
            share = functools.partial(float, percussive_share_of(spectrogram))
        # What separate_sources does; the first R restarts are those of n_restarts=R.
        runs = restarts(spectrogram, mode.n_fitted, mode.n_restarts,
                        group=by_timbre(spectrogram, S), settings=settings)  # fmt: skip
        for r in FEWER:
            fit, groups = blind_sources(runs[:r], spectrogram, S, percussive=share)
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


def ensemble(labels: tuple[str, ...], n_restarts: int) -> str:
    each = "" if n_restarts == N_RESTARTS else f", {n_restarts} restarts each"
    return f"mean of {' + '.join(labels)}{each}"


def report(runs: list[dict]) -> None:
    for run in runs:  # the default's frames: 2048 samples, whatever the rate
        run["2048 samples"] = run["93 ms" if run["sr"] < 32000 else "46 ms"]
    rules = ["2048 samples", *WINDOWS, *(ensemble(e, r) for r in FEWER for e in ENSEMBLES)]
    cases, table = over_seeds(runs, rules)
    kinds = np.array([kind(c) for c in cases])
    halved = halves(cases)

    def line(rule: str, subset: np.ndarray) -> str:
        return against_recipe(rule, table[rule], table, subset, WIDTH)

    seeds = sorted({r["seed"] for r in runs})
    print(f"\n{len(cases)} cases of 2-3 parts, seeds {seeds}; per case the mean over seeds")
    print(header(WIDTH))
    for group in ("kit", "drums+part", "other", "all"):
        subset = np.ones(len(cases), bool) if group == "all" else kinds == group
        if subset.any():
            print(f"-- {group}: {int(subset.sum())} cases")
            for rule in ("recipe", *rules):
                print(line(rule, subset))
    print("\nChosen on one half by mean SDR, reported on the other (the default beside it):")
    for select, held in (("A", "B"), ("B", "A")):
        for family in (list(WINDOWS), rules):
            best = max(family, key=lambda r: table[r][halved[select], 0].mean())
            print(f"on {select}, among {len(family)}, {best}; on {held}:")
            print("  " + line(best, halved[held]))
            print("  " + line("2048 samples", halved[held]))


if __name__ == "__main__":
    measuring(case, report, __doc__.splitlines()[0])
