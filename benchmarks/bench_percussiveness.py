"""Each component's percussiveness as a grouping cue for ``--sources`` (issue 24).

    python benchmarks/bench_percussiveness.py --data DIR [DIR ...] [--seeds 0 1] [--jobs 2]
                                              [--json FILE]
    python benchmarks/bench_percussiveness.py --report FILE [FILE ...]

Issue 24 names a percussiveness measure of each component (libnmfd's
``percussiveness_estimation``, after Dittmar, López-Serrano and Müller, ICASSP
2018) as a cue not yet measured for telling drums from pitched parts. There,
the NMF factorizes the harmonic and the percussive part of a median-filtering
separation stacked, and a component's percussiveness is the share of its
template in the percussive half. The same share without changing the
factorization: the share of the component's model ``W_k H_k`` that falls in
the recording's percussive part, ``sum P W_k H_k / sum W_k H_k``, with ``P``
librosa's ``hpss`` soft mask of ``V`` (power 2; its 31-frame and 31-bin
filters spanning the seconds and Hz they span at librosa's default analysis,
so alike at every rate).

On every case of at most 3 parts below each ``--data`` folder (as
``bench_simple_case.py`` reads them, with its kinds of case and its halves),
each seed, the same 8 restarts of 8 components per source, grouped:

- ``0.6.0``: Ward on the MFCCs (the first groupings);
- ``0.7.0``: what ``separate_sources`` does (``better_scaled`` where the
  recording's percussive share is above one half, else ``0.6.0``);
- ``cue w``: Ward on the MFCCs (scaled as Ward sees them) beside the
  standardised percussiveness weighted ``w``, for w = 0.5, 1, 2 (as
  ``bench_grouping_cues.py``'s flatness and attack cues);
- ``apart``: percussive components (above one half) and the others never in
  one source, the S sources shared between the two sides by Ward's own
  criterion (the least summed within-source inertia), Ward within each side;
- ``... +0.7.0``: the same where the recording is not mostly percussive, 0.7.0
  where it is (so that kits keep 0.7.0's regrouping);
- ``w=W, share > t``: ``cue W`` only where the recording's percussive share is
  above t and at most one half, else 0.7.0 (recordings without drums have
  shares near 0: there the cue splits a pitched part's attacks from its
  sustain);
- ``cue w=1.0 agreeing``: each fit grouped by the MFCCs alone or with the cue
  (w = 1), whichever is more like the medoid of all 16 groupings (as
  ``grouping.better_scaled`` chooses between the MFCCs as they are and
  standardised; no threshold).

Mean SDR / SI-SDR (BSS Eval v3, mir_eval) over a case's sources, per case the
mean over seeds; per kind and for all; then each family (0.7.0 and the three
weights; the same with ``+0.7.0``; the gated weights and thresholds together)
chosen on one half of the pieces by mean SDR and reported on the other.
"""

from __future__ import annotations

import functools
from pathlib import Path

import librosa
import numpy as np
from bench_grouping_cues import grouped, restarted, separated, standardised, ward_features
from bench_quality import CONFIG
from bench_simple_case import (
    against_recipe,
    by_kind,
    halves,
    header,
    introduce,
    labelled,
    measuring,
    over_seeds,
    started,
)

from nmfaudio.defaults import MOSTLY_PERCUSSIVE
from nmfaudio.grouping import (
    HPSS_HOP,
    HPSS_KERNEL,
    HPSS_N_FFT,
    HPSS_RATE,
    blind_sources,
    cluster_components,
    more_like_medoid,
)
from nmfaudio.modes import percussive_share_of

WEIGHTS = (0.5, 1.0, 2.0)
WIDTH = 26  # of the rules' names in the report


def odd(n: float) -> int:
    return 2 * int(round(n) // 2) + 1


def percussive_mask(V: np.ndarray, sr: int) -> np.ndarray:
    """librosa's ``hpss`` soft mask of the percussive part of ``V`` (at ``CONFIG``), the
    filters as long in seconds and Hz as its 31 frames and bins at its own analysis."""
    frames = odd(HPSS_KERNEL * (HPSS_HOP / HPSS_RATE) / (CONFIG.hop_length / sr))
    bins = odd(HPSS_KERNEL * (HPSS_RATE / HPSS_N_FFT) / (sr / CONFIG.n_fft))
    _, P = librosa.decompose.hpss(V.astype(np.float64), kernel_size=(frames, bins), mask=True)
    return P


def percussiveness(fit, P: np.ndarray) -> np.ndarray:
    """The share of each component's model ``W_k H_k`` in the percussive part ``P``."""
    W, H = fit.W.astype(np.float64), fit.H.astype(np.float64)
    inside = np.einsum("fk,ft,kt->k", W, P, H, optimize=True)
    return inside / np.maximum(W.sum(axis=0) * H.sum(axis=1), 1e-300)


def with_cue(fit, sr: int, n_sources: int, p: np.ndarray, weight: float) -> list[np.ndarray]:
    features = np.column_stack([ward_features(fit, sr), weight * standardised(p[:, None])])
    return labelled(cluster_components(features, n_sources), n_sources)


def inertia(x: np.ndarray) -> float:
    return float(((x - x.mean(axis=0)) ** 2).sum()) if len(x) else 0.0


def apart(fit, sr: int, n_sources: int, p: np.ndarray) -> list[np.ndarray]:
    """Percussive components and the others in separate sources, shared out by Ward's cost."""
    x = ward_features(fit, sr)
    sides = np.flatnonzero(p > 0.5), np.flatnonzero(p <= 0.5)
    if n_sources < 2 or not all(len(side) for side in sides):
        return labelled(cluster_components(x, n_sources), n_sources)
    best = None
    for first in range(1, n_sources):
        counts = (first, n_sources - first)
        if any(n > len(side) for n, side in zip(counts, sides, strict=True)):
            continue
        groups = [
            side[cluster_components(x[side], n) == s]
            for n, side in zip(counts, sides, strict=True)
            for s in range(n)
        ]
        cost = sum(inertia(x[g]) for g in groups)
        if best is None or cost < best[0]:
            best = (cost, groups)
    return sorted(best[1], key=lambda g: g.min())


def case(job: tuple[Path, int]) -> dict:
    out, spectrogram, references = started(job)
    sr, S = spectrogram.sr, len(references)
    fits = restarted(spectrogram, S, 8, job[1])
    runs = [(f, grouped(f, sr, S, 0.0)) for f in fits]
    share = out["share"] = percussive_share_of(spectrogram)
    out["0.6.0"] = separated(spectrogram, references, runs)[0]
    released = functools.partial(
        blind_sources, spectrogram=spectrogram, n_sources=S, percussive=lambda: share
    )  # what separate_sources makes of the runs
    out["0.7.0"] = separated(spectrogram, references, runs, released)[0]
    P = percussive_mask(spectrogram.V, sr)
    shares = [percussiveness(f, P) for f in fits]
    for w in WEIGHTS:
        cued = [(f, with_cue(f, sr, S, p, w)) for f, p in zip(fits, shares, strict=True)]
        out[f"cue w={w}"] = separated(spectrogram, references, cued)[0]
        if w == 1.0:
            chosen = more_like_medoid(runs, cued)
            out["cue w=1.0 agreeing"] = separated(spectrogram, references, chosen)[0]
    kept = [(f, apart(f, sr, S, p)) for f, p in zip(fits, shares, strict=True)]
    out["apart"] = separated(spectrogram, references, kept)[0]
    print(f"  done {out['case']} seed {out['seed']}", flush=True)
    return out


def figure(run: dict, rule: str) -> list[float]:
    if rule.endswith(" +0.7.0"):  # the cue where not mostly percussive, else 0.7.0
        return run["0.7.0"] if run["share"] > MOSTLY_PERCUSSIVE else run[rule[: -len(" +0.7.0")]]
    return run[rule]


def report(runs: list[dict]) -> None:
    cues = [f"cue w={w}" for w in WEIGHTS]
    tried = [*cues, "apart", "cue w=1.0 agreeing"]
    rules = ["0.6.0", "0.7.0", *tried, *(f"{c} +0.7.0" for c in tried)]
    cases, table = over_seeds(runs, rules, figure)
    halved = halves(cases)

    def line(rule: str, subset: np.ndarray) -> str:
        return against_recipe(rule, table[rule], table, subset, WIDTH)

    introduce(runs, cases)
    print(header(WIDTH))
    for group, subset in by_kind(cases):
        recipe_sdr = table["recipe"][subset, 0].mean()
        print(f"-- {group}: {int(subset.sum())} cases, recipe {recipe_sdr:.2f}")
        for rule in rules:
            print(line(rule, subset))
    print("\nChosen on one half by mean SDR, reported on the other (0.7.0 beside it):")
    for select, held in (("A", "B"), ("B", "A")):
        for family in (cues, [f"{c} +0.7.0" for c in cues]):
            best = max(["0.7.0", *family], key=lambda r: table[r][halved[select], 0].mean())
            print(f"on {select}, {best}, on {held}:")
            print("  " + line(best, halved[held]))
            print("  " + line("0.7.0", halved[held]))
    # The cue only where the recording has some percussive part but not most of it
    # (share in (t, 1/2]), the weight and t chosen together on one half.
    share_of = {r["case"]: r["share"] for r in runs}  # the recording's: any seed's
    shares = np.array([share_of[c] for c in cases])
    for w in WEIGHTS:
        for t in sorted(set(shares)):
            gated = (shares > t) & (shares <= MOSTLY_PERCUSSIVE)
            table[f"w={w}, share > {t:.3f}"] = np.where(
                gated[:, None], table[f"cue w={w}"], table["0.7.0"]
            )
    gates = [rule for rule in table if ", share > " in rule]
    for select, held in (("A", "B"), ("B", "A")):
        best = max(gates, key=lambda r: table[r][halved[select], 0].mean())
        print(f"on {select}, {best}, on {held}:")
        print("  " + line(best, halved[held]))
        print("  " + line("0.7.0", halved[held]))


if __name__ == "__main__":
    measuring(case, report, __doc__.splitlines()[0])
