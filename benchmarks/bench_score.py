"""Separating with a score, on the rendered development pieces: every method in one run.

    python benchmarks/bench_score.py [--part table|align|select] [--cases N] [--jobs 2]

Each of ``../shared/data/rendered/<case>/`` holds the mixture, each part's WAV
and the exact MIDI score each part was rendered from (``midi/<stem>.mid``, the
stem naming the instrument). Parts:

- ``table``: per case and mean, SDR and SI-SDR (BSS Eval v3, mir_eval) of the
  scikit-learn recipe (K = S, best permutation), blind ``--sources S``, the plain
  score-informed reference of the issue (one comb of 20 partials at 1/h per
  (stem, pitch), +-0.5 semitone plus a bin, flat drum templates, activations 1
  in [onset - 0.1 s, offset + 0.1 s] (drums onset + 0.2 s), 100 KL updates,
  Wiener masks, STFT 2048/512, no tuning, no alignment), and nmfaudio's
  defaults (``WithScore``: aligned first), with the exact score.
- ``align``: scores made off on purpose from the exact one, three draws each,
  separated after alignment, beside the exact score's result: the score up to
  2 s late; the recording given a lead-in of up to 2 s of quiet noise (60 dB
  under the mixture, the exact score then early by as much); the score up to
  2 s early with the notes moved before 0 s cut (a score missing its start); a
  tempo off by up to +-10 %; a smooth tempo curve of +-5 %; note jitter of +-30 ms.
- ``synctoolbox``: the MIR reference for audio-score alignment beside ours:
  synctoolbox's documented pipeline (pitch-filterbank chroma and DLNCO onset
  features at 50 Hz, its chroma shift, multi-resolution DTW) warps each score,
  which is then separated as given, against nmfaudio's defaults on the same
  scores (the exact score, late, a tempo off, a curve, a lead-in; one draw
  each). Needs ``pip install synctoolbox`` (music21, pandas, libfmp beside it),
  best in a virtual environment of its own.
- ``select``: the choice of the defaults' constants (width, tolerance,
  partials, onset templates, iterations), one at a time from the reference's,
  on one half of the cases (alternate in sorted order), reported on the other
  half, both ways round; at STFT 2048/512, as they were chosen, or with
  ``--window SECONDS``.
- ``window``: the choice of the score mode's STFT window (``SCORE_WINDOW``)
  among durations, each a power of two of samples with a quarter of it the
  hop, the default model otherwise, on each half, reported on the other; and
  the same durations with every piece resampled to 44.1 kHz, where the same
  frame lengths in samples are half as long.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import librosa
import numpy as np
from bench_quality import HOP, N_FFT, masked_sources, sklearn_nmf

import nmfaudio
from nmfaudio import Fit, ScoreModel, Settings, STFTConfig
from nmfaudio.modes import WithScore
from nmfaudio.score import Score

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "rendered"

#: The issue's plain reference: Ewert & Muller's model as described, nothing tuned.
REFERENCE = ScoreModel(partials=20, rolloff=1.0, width=0.5, bins=1, tolerance=0.1, release=0.1,
                       drum_length=0.2, onsets=False, tuning=False, n_iter=100,
                       window=None)  # fmt: skip
#: Every fit runs its model's iterations (``ScoreModel.n_iter``), the tolerance off.
FIT = Fit(tol=0)
#: Candidates of ``select``, searched one constant at a time in this order (coordinate
#: ascent from the reference, each choice kept for the next), on one half of the cases.
CANDIDATES = {
    "partials": [5, 10, 20, 40],
    "rolloff": [0.5, 1.0, 2.0],
    "width": [0.25, 0.5, 1.0],
    "tolerance": [0.05, 0.1, 0.2],
    "release": [0.1, 0.3, 0.6],
    "drum_length": [0.1, 0.2, 0.4],
    "onsets": [False, True],
    "n_iter": [10, 25, 50, 100, 200],
}


def load(folder: Path):
    y, sr = nmfaudio.load(folder / "mixture.wav")
    names = sorted(p.stem for p in (folder / "midi").glob("*.mid"))
    references = np.stack([nmfaudio.load(folder / f"{n}.wav")[0][0] for n in names])
    notes = []
    for name in names:  # one file per stem, no track names: the stem names the part
        part = Score.from_midi(folder / "midi" / f"{name}.mid")
        notes += [dataclasses.replace(note, instrument=name) for note in part.notes]
    return y, sr, names, references, Score(tuple(notes))


def scored(result, names, references) -> tuple[float, float]:
    estimates = np.stack([s[0] for s in result.iter_sources()])
    mean = nmfaudio.evaluate(
        references, estimates, reference_names=names, estimate_names=list(result.sources)
    ).mean()
    return mean["sdr"], mean["si_sdr"]


#: The issue's STFT, of the reference and of the constants' selection.
ISSUE_STFT = STFTConfig(n_fft=N_FFT, hop_length=HOP)
#: Windows ``window`` chooses among, in seconds (2**10 to 2**13 samples at 22.05 kHz).
WINDOWS = (0.046, 0.093, 0.186, 0.372)


def with_score(y, sr, names, references, score, *, model=None, fit=None, align=True, stft=None):
    mode = WithScore(score, align=align, model=model or ScoreModel())
    settings = Settings(stft=stft or STFTConfig(), fit=fit or Fit())
    return scored(nmfaudio.separate_as(mode, y, sr, settings=settings), names, references)


def window_case(folder: Path) -> dict:
    """Mean SDR with each window of WINDOWS, at the piece's rate and at 44.1 kHz."""
    y, sr, names, references, score = load(folder)
    out = {}
    for rate in (sr, 44100):
        if rate != sr:
            y, references = (
                librosa.resample(a, orig_sr=sr, target_sr=rate) for a in (y, references)
            )
        for seconds in WINDOWS:
            model = ScoreModel(window=seconds)
            n_fft = WithScore(score, model=model).stft(Settings(), rate).n_fft
            out[f"{rate} Hz, {seconds * 1000:.0f} ms ({n_fft})"] = with_score(
                y, rate, names, references, score, align=False, model=model
            )[0]
    print(f"  done {folder.name}", flush=True)
    return out


def print_window(cases: list[dict]) -> None:
    labels = list(cases[0])
    sdr = np.array([[c[label] for label in labels] for c in cases])
    print("\nmean SDR (dB), exact scores, no alignment: all 16 / half A / half B")
    for j, label in enumerate(labels):
        print(f"  {label:<26} {sdr[:, j].mean():6.2f} / {sdr[0::2, j].mean():6.2f}"
              f" / {sdr[1::2, j].mean():6.2f}")  # fmt: skip
    native = list(range(len(WINDOWS)))  # the pieces' own rate first
    base = WINDOWS.index(0.093)  # 2048 samples at 22.05 kHz, the other modes' window
    for pick, report in (("A", "B"), ("B", "A")):
        rows = {"A": slice(0, None, 2), "B": slice(1, None, 2)}
        chosen = native[int(np.argmax(sdr[rows[pick]][:, native].mean(axis=0)))]
        gain = sdr[rows[report], chosen] - sdr[rows[report], base]
        print(
            f"  chosen on {pick}: {labels[chosen]}; on {report} {gain.mean():+.2f} dB against"
            f" {labels[base]}, at least it on {int(np.sum(gain >= 0))} of {len(gain)}"
        )


def recipe(y, references) -> tuple[float, float]:
    """scikit-learn's KL-NMF with K = S, magnitude-ratio masks, the best permutation."""
    V = np.abs(librosa.stft(y[0], n_fft=N_FFT, hop_length=HOP))
    W, H = sklearn_nmf(V, len(references), 0)
    estimates = masked_sources(y[0], W, H, range(len(references)), len(references))
    mean = nmfaudio.evaluate(references, estimates).mean()
    return mean["sdr"], mean["si_sdr"]


def table_case(folder: Path) -> dict:
    y, sr, names, references, score = load(folder)
    out = {"recipe": recipe(y, references)}
    start = time.perf_counter()
    blind = nmfaudio.separate_sources(y, sr, len(names))
    out["blind"] = nmfaudio.evaluate(
        references, np.stack([s[0] for s in blind.iter_sources()])
    ).mean()
    out["blind"] = (out["blind"]["sdr"], out["blind"]["si_sdr"])
    blind_seconds = time.perf_counter() - start
    out["reference"] = with_score(
        y, sr, names, references, score, model=REFERENCE, fit=FIT, align=False, stft=ISSUE_STFT
    )
    start = time.perf_counter()
    out["defaults"] = with_score(y, sr, names, references, score)
    score_seconds = time.perf_counter() - start
    out["defaults, no alignment"] = with_score(y, sr, names, references, score, align=False)
    print(f"  done {folder.name}", flush=True)
    return {"case": folder.name, "scores": out, "seconds": (blind_seconds, score_seconds)}


def perturbed(score: Score, kind: str, rng: np.random.Generator) -> Score:
    if kind == "late":
        return score.shifted(float(rng.uniform(0, 2)))
    if kind == "early, cut":
        return score.shifted(-float(rng.uniform(0, 2)))
    if kind == "tempo":
        return score.stretched(float(1 + rng.uniform(-0.1, 0.1)))
    if kind == "curve":  # the tempo drifts smoothly by up to 5 %
        depth, period, phase = rng.uniform(0.02, 0.05), rng.uniform(4, 10), rng.uniform(0, 6.3)

        def warp(t):
            return t + depth * period / (2 * np.pi) * (np.sin(2 * np.pi * t / period + phase)
                                                       - np.sin(phase))  # fmt: skip

        return score.warped(warp)
    if kind == "jitter":
        notes = [
            dataclasses.replace(
                n, start=max(0.0, n.start + d), end=max(n.start + d + 0.02, n.end + d)
            )
            for n, d in zip(score.notes, rng.uniform(-0.03, 0.03, len(score.notes)), strict=True)
        ]  # fmt: skip
        return Score(tuple(notes), score.programs)
    raise ValueError(kind)


KINDS = ("late", "lead-in", "early, cut", "tempo", "curve", "jitter")


def with_lead_in(y, references, sr, rng) -> tuple[np.ndarray, np.ndarray, float]:
    """The recording and its parts after up to 2 s of noise 60 dB under the mixture."""
    n = int(rng.uniform(0, 2) * sr)
    level = 1e-3 * float(np.sqrt(np.mean(np.square(y))))
    noise = rng.normal(0, level, (y.shape[0], n)).astype(y.dtype)
    silence = np.zeros((len(references), n), references.dtype)
    return np.hstack([noise, y]), np.hstack([silence, references]), n / sr


def align_case(folder: Path) -> dict:
    y, sr, names, references, score = load(folder)
    out = {"exact": with_score(y, sr, names, references, score)}
    out["exact, no alignment"] = with_score(y, sr, names, references, score, align=False)
    rng = np.random.default_rng(int(folder.name.split("_")[-1]))
    for kind in KINDS:
        out[kind], out[f"{kind}, no alignment"], out[f"{kind}, exact"] = [], [], []
        for _ in range(3):
            if kind == "lead-in":  # the exact score, early by the lead-in
                y_in, refs_in, seconds = with_lead_in(y, references, sr, rng)
                case = (y_in, sr, names, refs_in)
                exact = with_score(*case, score.shifted(seconds), align=False)
                given = score
            else:
                case, exact, given = (
                    (y, sr, names, references),
                    out["exact"],
                    perturbed(score, kind, rng),
                )
            out[kind].append(with_score(*case, given))
            out[f"{kind}, no alignment"].append(with_score(*case, given, align=False))
            out[f"{kind}, exact"].append(exact)
    print(f"  done {folder.name}", flush=True)
    return {"case": folder.name, "scores": out}


def synctoolbox_warp(score: Score, y: np.ndarray, sr: int):
    """The score-to-recording warp of synctoolbox's audio-score pipeline, as its
    documentation runs it."""
    import pandas as pd
    from synctoolbox.dtw.mrmsdtw import sync_via_mrmsdtw
    from synctoolbox.dtw.utils import (
        compute_optimal_chroma_shift,
        make_path_strictly_monotonic,
        shift_chroma_vectors,
    )
    from synctoolbox.feature.chroma import pitch_to_chroma, quantize_chroma
    from synctoolbox.feature.chroma import quantized_chroma_to_CENS as cens
    from synctoolbox.feature.csv_tools import df_to_pitch_features, df_to_pitch_onset_features
    from synctoolbox.feature.dlnco import pitch_onset_features_to_DLNCO as dlnco
    from synctoolbox.feature.pitch import audio_to_pitch_features
    from synctoolbox.feature.pitch_onset import audio_to_pitch_onset_features
    from synctoolbox.feature.utils import estimate_tuning

    rate = 50
    audio = y.mean(axis=0).astype(np.float64)
    tuning = estimate_tuning(audio, sr)
    pitch = audio_to_pitch_features(f_audio=audio, Fs=sr, tuning_offset=tuning, feature_rate=rate)
    chroma_a = quantize_chroma(pitch_to_chroma(f_pitch=pitch))
    peaks = audio_to_pitch_onset_features(f_audio=audio, Fs=sr, tuning_offset=tuning)
    onsets_a = dlnco(f_peaks=peaks, feature_rate=rate, feature_sequence_length=chroma_a.shape[1])
    notes = [n for n in score.notes if n.is_pitched]
    table = pd.DataFrame({
        "start": [n.start for n in notes], "duration": [n.end - n.start for n in notes],
        "pitch": [n.pitch for n in notes], "velocity": [n.velocity for n in notes],
        "instrument": [n.instrument for n in notes],
    })  # fmt: skip
    chroma_s = quantize_chroma(pitch_to_chroma(f_pitch=df_to_pitch_features(table, rate)))
    onsets_s = dlnco(f_peaks=df_to_pitch_onset_features(table), feature_rate=rate,
                     feature_sequence_length=chroma_s.shape[1])  # fmt: skip
    shift = compute_optimal_chroma_shift(
        cens(chroma_a, 201, 50, rate)[0], cens(chroma_s, 201, 50, rate)[0]
    )
    chroma_s = shift_chroma_vectors(chroma_s, shift)
    onsets_s = shift_chroma_vectors(onsets_s, shift)
    path = sync_via_mrmsdtw(
        f_chroma1=chroma_a, f_onset1=onsets_a, f_chroma2=chroma_s, f_onset2=onsets_s,
        input_feature_rate=rate, step_weights=np.array([1.5, 1.5, 2.0]), threshold_rec=10**6,
    )  # fmt: skip
    path = make_path_strictly_monotonic(path) / rate
    return lambda t: np.interp(t, path[1], path[0])


def synctoolbox_case(folder: Path) -> dict:
    y, sr, names, references, score = load(folder)
    rng = np.random.default_rng(700 + int(folder.name.split("_")[-1]))
    jobs = [("exact", (y, sr, names, references), score)]
    for kind in ("late", "tempo", "curve"):
        jobs.append((kind, (y, sr, names, references), perturbed(score, kind, rng)))
    y_in, refs_in, _ = with_lead_in(y, references, sr, rng)
    jobs.append(("lead-in", (y_in, sr, names, refs_in), score))
    out = {}
    for kind, case, given in jobs:
        start = time.perf_counter()
        warped = given.warped(synctoolbox_warp(given, case[0], case[1]))
        seconds = time.perf_counter() - start
        out[kind] = {
            "synctoolbox": with_score(*case, warped, align=False),
            "nmfaudio": with_score(*case, given),
            "seconds": seconds,
        }
    print(f"  done {folder.name}", flush=True)
    return {"case": folder.name, "scores": out}


def print_synctoolbox(cases: list[dict]) -> None:
    print("\nmean SDR / SI-SDR (dB) after alignment, per kind of score")
    for kind in cases[0]["scores"]:
        cells = []
        for method in ("synctoolbox", "nmfaudio"):
            values = np.array([c["scores"][kind][method] for c in cases])
            cells.append(f"{method} {values[:, 0].mean():6.2f} / {values[:, 1].mean():6.2f}")
        seconds = np.median([c["scores"][kind]["seconds"] for c in cases])
        print(f"  {kind:<8} " + "   ".join(cells) + f"   (synctoolbox {seconds:.1f} s a piece)")


def select_case(job) -> float:
    """Mean SDR of one case with one candidate model ``(folder, model)``: its window's STFT,
    or the issue's for ``window=None`` (the reference's)."""
    folder, model = job
    y, sr, names, references, score = load(folder)
    return with_score(y, sr, names, references, score, model=model, fit=FIT, align=False)[0]


def ascent(pool, folders, window) -> tuple[ScoreModel, list[str]]:
    """Coordinate ascent over CANDIDATES on ``folders``: the model chosen and what was seen.
    Tuning is on throughout: these pieces are all at A440, so they cannot judge it."""
    model, seen = dataclasses.replace(REFERENCE, tuning=True, window=window), []
    for name, values in CANDIDATES.items():
        candidates = [dataclasses.replace(model, **{name: value}) for value in values]
        means = [
            float(np.mean(pool.map(select_case, [(f, m) for f in folders]))) for m in candidates
        ]
        model = candidates[int(np.argmax(means))]
        row = ", ".join(f"{v}: {m:.2f}" for v, m in zip(values, means, strict=True))
        seen.append(f"{name}: {row}")
    return model, seen


def run_select(pool, folders, window) -> None:
    halves = {"A": folders[0::2], "B": folders[1::2]}
    reference = dict(zip(folders, pool.map(select_case, [(f, REFERENCE) for f in folders]),
                         strict=True))  # fmt: skip
    for pick, report in (("A", "B"), ("B", "A")):
        model, seen = ascent(pool, halves[pick], window)
        print(f"\nchosen on {pick} ({len(halves[pick])} cases):")
        for line in seen:
            print(f"  {line}")
        print(f"  -> {model}")
        held = pool.map(select_case, [(f, model) for f in halves[report]])
        ref = [reference[f] for f in halves[report]]
        gain = np.array(held) - np.array(ref)
        print(f"  on {report}: mean SDR {np.mean(held):.2f} dB against the reference's"
              f" {np.mean(ref):.2f} ({gain.mean():+.2f}; median {np.median(held):.2f}, worst"
              f" {np.min(held):.2f}; at least the reference on {int(np.sum(gain >= 0))} of"
              f" {len(gain)})")  # fmt: skip
    model, seen = ascent(pool, folders, window)
    print(f"\nchosen on all {len(folders)}:")
    for line in seen:
        print(f"  {line}")
    print(f"  -> {model}")


def print_table(cases: list[dict]) -> None:
    methods = list(cases[0]["scores"])
    print("\nmean SDR / SI-SDR (dB) per case")
    print(f"  {'case':<10}" + "".join(f"{m:>26}" for m in methods))
    for case in cases:
        cells = "".join(f"{s[0]:>15.2f} / {s[1]:<8.2f}" for s in case["scores"].values())
        print(f"  {case['case']:<10}{cells}")
    sdr = {m: np.array([c["scores"][m][0] for c in cases]) for m in methods}
    si = {m: np.array([c["scores"][m][1] for c in cases]) for m in methods}
    print(f"  {'mean':<10}" + "".join(f"{sdr[m].mean():>15.2f} / {si[m].mean():<8.2f}"
                                      for m in methods))  # fmt: skip
    print(f"  {'median':<10}" + "".join(f"{np.median(sdr[m]):>15.2f} / {np.median(si[m]):<8.2f}"
                                        for m in methods))  # fmt: skip
    print(f"  {'worst':<10}" + "".join(f"{sdr[m].min():>15.2f} / {si[m].min():<8.2f}"
                                       for m in methods))  # fmt: skip
    ref, ours = sdr["reference"], sdr["defaults"]
    print(f"\n  defaults - reference: mean {np.mean(ours - ref):+.2f} dB, at least the reference"
          f" on {int(np.sum(ours >= ref))} of {len(ours)}; defaults - blind:"
          f" {np.mean(ours - sdr['blind']):+.2f} dB")  # fmt: skip
    blind_s = np.mean([c["seconds"][0] for c in cases])
    score_s = np.mean([c["seconds"][1] for c in cases])
    print(f"  seconds per piece: blind --sources {blind_s:.1f}, score {score_s:.1f}")


def print_align(cases: list[dict]) -> None:
    exact = np.array([c["scores"]["exact"][0] for c in cases])
    print(
        f"\nexact score, aligned: mean SDR {exact.mean():.2f} dB; not aligned:"
        f" {np.mean([c['scores']['exact, no alignment'][0] for c in cases]):.2f} dB"
    )
    for kind in KINDS:
        after, before, truth = (
            np.array([[s[0] for s in c["scores"][key]] for c in cases])
            for key in (kind, f"{kind}, no alignment", f"{kind}, exact")
        )
        change = after - truth
        print(f"  {kind:<11} aligned {after.mean():6.2f} dB ({change.mean():+.2f} from the exact"
              f" score's, median {np.median(change):+.2f}, worst draw {change.min():+.2f});"
              f" without alignment {before.mean():6.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=("table", "align", "synctoolbox", "select", "window"), default="table"
    )
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument(
        "--window", type=float, help="select: the STFT window in seconds (default: the issue's"
        " 2048/512, as the defaults' constants were chosen)",
    )  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    folders = sorted(p for p in DATA.iterdir() if (p / "midi").is_dir())[: args.cases]
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    with Pool(args.jobs, initializer=warnings.simplefilter, initargs=("ignore",)) as pool:
        if args.part == "select":
            run_select(pool, folders, args.window)
        else:
            run = {"table": table_case, "align": align_case, "synctoolbox": synctoolbox_case,
                   "window": window_case}  # fmt: skip
            show = {"table": print_table, "align": print_align, "synctoolbox": print_synctoolbox,
                    "window": print_window}  # fmt: skip
            show[args.part](pool.map(run[args.part], folders))
    print(f"\n{len(folders)} cases in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
