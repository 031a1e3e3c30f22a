"""Separation quality on the development cases: nmfaudio beside its peers, cross-validated.

    python benchmarks/bench_quality.py [--data ../shared/data] [--seeds 0 1 2 3 4] [--jobs 2]
                                       [--part {all,blind,supervised,costs}] [--json FILE]
                                       [--cases NAME ...]

Cases: every folder of ``<data>/separation`` (real recordings) and
``<data>/rendered`` (pieces rendered from MIDI parts), each a ``mixture.wav``
and one WAV per part; 20 cases today. Each method runs on every case with
every seed, all in one run:

- recipe: scikit-learn KL-NMF (solver "mu") with K = number of sources,
  magnitude-ratio masks, best permutation of components to sources;
- MFCC peer: scikit-learn KL-NMF with 4 components per source, clustered by
  librosa's default MFCCs of their templates with k-means (nussl's
  TimbreClustering approach);
- nmfaudio: ``separate_sources`` (what ``nmfaudio separate --sources S``
  runs) with each candidate number of restarts; beside it, the same 8
  restarts as 0.6.0 grouped them, each by its MFCCs as they are, even where
  the recording is mostly percussive (``grouping.blind_sources``).

The candidates are cross-validated: the cases are split in two halves
(alternate cases in sorted order, so that each half holds real recordings
and rendered ones); the candidate with the best mean SDR on one half is
reported on the other, and the other way round. Every score is BSS Eval SDR
(mir_eval) or SI-SDR, the mean over a case's sources, in dB; per case, the
mean over seeds, with the worst seed and the seed spread (max - min).

Supervised, on drums808 with 4 templates per drum learnt from
``<data>/templates/drums/{kick,snare,hihat}`` (another kit): the recipe with
scikit-learn beside ``nmfaudio learn`` + ``separate --templates`` with each
``--templates-as`` (names, the default; fixed; adapted), with ``--extra 2``
scored on the drums, and blind ``--sources 3``; and across rendered pieces:
templates learnt from the parts of one piece, applied to another piece with
the same instruments (the parts the two pieces do not share go to ``--extra``
components, scored against the sum of the other parts), blind beside them.
The cross-kit pairs are ``bench_template_assignment.py``.

Costs (``--part costs``, not part of ``all``): one factorization of 8
components per source grouped by timbre (``separate_sources`` with one
restart) under each divergence and penalty of ``COSTS``, every case and seed,
with the same cross-validation of the choice (see the documentation's "Divergences
and penalties").

Needs scikit-learn (pip install '.[test]').
"""

from __future__ import annotations

import argparse
import functools
import json
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import librosa
import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import non_negative_factorization

import nmfaudio
from nmfaudio import Cost, Fit, Settings, Sources, STFTConfig
from nmfaudio.defaults import TEMPLATE_USES
from nmfaudio.grouping import blind_sources, by_timbre, consensus, restarts, source_names
from nmfaudio.modes import percussive_share_of
from nmfaudio.separation import Separation, analyse

N_FFT, HOP = 2048, 512
CONFIG = STFTConfig(n_fft=N_FFT, hop_length=HOP)
DRUMS = ("kick", "snare", "hihat")
RESTARTS = (1, 3, 5, 8)  # candidates for nmfaudio.defaults.N_RESTARTS
AS_BEFORE = "R=8, as 0.6.0"  # never regrouped by standardised MFCCs
BLIND = [f"R={r}" for r in RESTARTS] + [AS_BEFORE]
CROSS_PAIRS = (("case_003", "case_014"), ("case_005", "case_015"))  # pieces sharing parts
#: Costs compared by ``--part costs``: keywords of nmfaudio.Cost.of.
COSTS = {
    "KL (default)": {},
    "Itakura-Saito": {"beta": 0.0},
    "beta 0.5": {"beta": 0.5},
    "sparsity 1e-5": {"sparsity": 1e-5},
    "sparsity 1e-4": {"sparsity": 1e-4},
    "sparsity 1e-3": {"sparsity": 1e-3},
    "continuity 1e-4": {"continuity": 1e-4},
    "continuity 1e-3": {"continuity": 1e-3},
    "continuity 1e-2": {"continuity": 1e-2},
}


def sklearn_nmf(V: np.ndarray, k: int, seed: int, W: np.ndarray | None = None):
    """scikit-learn KL-NMF, 200 iterations as nmfaudio's default; W kept fixed when given."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if W is None:
            return non_negative_factorization(
                V, n_components=k, init="random", random_state=seed,
                beta_loss="kullback-leibler", solver="mu", max_iter=200,
            )[:2]  # fmt: skip
        # scikit-learn fixes H, not W: factorize the transpose.
        H_T, _, _ = non_negative_factorization(
            V.T, H=W.T, n_components=W.shape[1], init="custom", update_H=False,
            random_state=seed, beta_loss="kullback-leibler", solver="mu", max_iter=200,
        )  # fmt: skip
        return W, H_T.T


def peer_features(W: np.ndarray, sr: int) -> np.ndarray:
    """The MFCC peer's features: librosa's default MFCCs (128 mel bands) of each template."""
    mel = librosa.feature.melspectrogram(S=W**2, sr=sr)
    return librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13).T


def masked_sources(y: np.ndarray, W: np.ndarray, H: np.ndarray, labels, n_sources: int):
    """Magnitude-ratio masks of the components of each label, librosa STFT / istft."""
    X = librosa.stft(y, n_fft=N_FFT, hop_length=HOP)
    total = W @ H + np.finfo(np.float32).eps
    out = []
    for s in range(n_sources):
        members = np.flatnonzero(np.asarray(labels) == s)
        mask = (W[:, members] @ H[members]) / total
        out.append(librosa.istft(X * mask, n_fft=N_FFT, hop_length=HOP, length=len(y)))
    return np.stack(out)


def scores(references, estimates, names=None, estimate_names=None) -> tuple[float, float]:
    """Mean SDR and mean SI-SDR over the sources."""
    result = nmfaudio.evaluate(
        references, estimates, reference_names=names, estimate_names=estimate_names
    ).mean()
    return result["sdr"], result["si_sdr"]


def load_case(folder: Path):
    y, sr = nmfaudio.load(folder / "mixture.wav")
    y = y.mean(axis=0)
    names = sorted(p.stem for p in folder.glob("*.wav") if p.stem != "mixture")
    references = np.stack([nmfaudio.load(folder / f"{n}.wav")[0].mean(axis=0) for n in names])
    return y, sr, names, references


def consensus_scores(spectrogram, references, runs, sources):
    """The scores of the sources that ``sources(runs, spectrogram, n_sources)`` makes of
    grouped runs."""
    fit, groups = sources(runs, spectrogram, len(references))
    result = Separation(spectrogram, fit, Settings(stft=CONFIG), source_names(groups))
    return scores(references, np.stack(list(result.iter_sources())))  # 1-D, as y


def blind_case(job: tuple[Path, list[int]]) -> dict:
    """Every blind method on one case, every seed: {method: [(sdr, si_sdr) per seed]}."""
    folder, seeds = job
    y, sr, names, references = load_case(folder)
    S = len(names)
    V = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    out: dict[str, list] = {m: [] for m in ["recipe", "peer", *BLIND]}
    seconds = {f"R={r}": 0.0 for r in RESTARTS}
    for seed in seeds:
        W, H = sklearn_nmf(V, S, seed)
        out["recipe"].append(scores(references, masked_sources(y, W, H, range(S), S)))
        W, H = sklearn_nmf(V, 4 * S, seed)
        labels = KMeans(S, n_init=10, random_state=seed).fit_predict(peer_features(W, sr))
        out["peer"].append(scores(references, masked_sources(y, W, H, labels, S)))
        # separate_sources(n_restarts=r) is the consensus of the first r restarts drawn from
        # one generator (tested): the restarts of the largest r serve every candidate.
        start = time.perf_counter()
        mode = Sources(S)
        spectrogram = analyse(y, sr, CONFIG, mode)
        # What separate_sources makes of its restarts, the recording's share taken once.
        share = percussive_share_of(spectrogram)
        released = functools.partial(blind_sources, percussive=lambda share=share: share)
        analysed = time.perf_counter() - start
        settings = Settings(stft=CONFIG, fit=Fit(seed=np.random.default_rng(seed)))
        runs, run_seconds = [], []
        for _ in range(max(RESTARTS)):
            start = time.perf_counter()
            runs += restarts(
                spectrogram, mode.n_fitted, 1, group=by_timbre(spectrogram, S), settings=settings
            )
            run_seconds.append(time.perf_counter() - start)
        for r in RESTARTS:
            start = time.perf_counter()
            out[f"R={r}"].append(consensus_scores(spectrogram, references, runs[:r], released))
            seconds[f"R={r}"] += analysed + sum(run_seconds[:r]) + time.perf_counter() - start
        as_before = consensus_scores(
            spectrogram, references, runs, lambda runs, *_: consensus(runs)
        )
        out[AS_BEFORE].append(as_before)
    print(f"  done {folder.name}", flush=True)
    return {"case": folder.name, "sources": S, "scores": out, "seconds": seconds}


def cost_case(job: tuple[Path, list[int]]) -> dict:
    """Every cost of COSTS on one case, every seed, one restart: {cost: [(sdr, si_sdr)]}."""
    folder, seeds = job
    y, sr, names, references = load_case(folder)
    out: dict[str, list] = {name: [] for name in COSTS}
    for name, cost in COSTS.items():
        for seed in seeds:
            settings = Settings(cost=Cost.of(**cost), fit=Fit(seed=seed))
            result = nmfaudio.separate_sources(y, sr, len(names), n_restarts=1, settings=settings)
            estimates = np.stack(list(result.iter_sources()))  # 1-D, as y
            out[name].append(scores(references, estimates))
    print(f"  done {folder.name}", flush=True)
    return {"case": folder.name, "sources": len(names), "scores": out}


def drum_one_shots(data: Path, drum: str, sr: int) -> list[np.ndarray]:
    """The one-shots of ``<data>/templates/drums/<drum>``, at ``sr``."""
    return [
        nmfaudio.load(f, sr=sr)[0]
        for f in sorted((data / "templates" / "drums" / drum).glob("*.wav"))
    ]


def templates_between(train: Path, test: Path, settings: Settings, parts=None):
    """4 templates of each of ``parts`` (default: every part both pieces have), learnt on
    ``train``'s stems, for ``test``: (y, sr, sets, references, their names, n_extra). The
    references are those parts and, where ``test`` has others, their sum "rest", which
    ``n_extra`` = 4 free components per other part are for."""
    _, train_sr, train_names, train_refs = load_case(train)
    y, sr, names, references = load_case(test)
    learnt = parts or [n for n in names if n in train_names]
    sets = [
        nmfaudio.learn([train_refs[train_names.index(n)]], train_sr, 4, name=n, settings=settings)
        for n in learnt
    ]
    others = [i for i, n in enumerate(names) if n not in learnt]
    targets = references[[names.index(n) for n in learnt]]
    if not others:
        return y, sr, sets, targets, learnt, 0
    targets = np.concatenate([targets, references[others].sum(axis=0, keepdims=True)])
    return y, sr, sets, targets, [*learnt, "rest"], 4 * len(others)


def supervised_drums808(data: Path, seed: int) -> dict[str, tuple[float, float]]:
    y, sr, names, references = load_case(data / "separation" / "drums808")
    recipe_W, ours = [], []
    for drum in DRUMS:
        signals = drum_one_shots(data, drum, sr)
        V = np.concatenate([np.abs(librosa.stft(s.mean(axis=0), n_fft=N_FFT)) for s in signals], 1)
        recipe_W.append(sklearn_nmf(V, 4, seed)[0])
        seeded = Settings(fit=Fit(seed=seed))
        ours.append(nmfaudio.learn(signals, sr, 4, name=drum, settings=seeded))
    W = np.concatenate(recipe_W, axis=1)
    W, H = sklearn_nmf(np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)), W.shape[1], seed, W)
    labels = np.repeat(np.arange(len(DRUMS)), 4)
    estimates = masked_sources(y, W, H, labels, len(DRUMS))
    out = {"recipe": scores(references, estimates, names, list(DRUMS))}
    variants = {use: {"use": use} for use in TEMPLATE_USES} | {
        "names, extra 2": {"n_extra": 2},
        "fixed, extra 2": {"n_extra": 2, "use": "fixed"},
    }
    for label, options in variants.items():
        result = nmfaudio.separate_with_templates(
            y, sr, ours, settings=Settings(fit=Fit(seed=seed)), **options
        )
        estimates = np.stack(list(result.iter_sources()))  # 1-D, as y
        # Scored by name: with free components, the drums (their rest is not a part).
        out[label] = scores(references, estimates, names, list(result.sources))
    blind = nmfaudio.separate_sources(y, sr, len(DRUMS), settings=Settings(fit=Fit(seed=seed)))
    out["blind --sources 3"] = scores(references, np.stack(list(blind.iter_sources())))
    return out


def supervised_cross(data: Path, train: str, test: str, seed: int) -> dict:
    """Templates from the parts of ``train`` applied to ``test``; parts not shared -> rest."""
    y, sr, sets, targets, target_names, n_extra = templates_between(
        data / "rendered" / train, data / "rendered" / test, Settings(fit=Fit(seed=seed))
    )
    out = {}
    for use in TEMPLATE_USES:
        result = nmfaudio.separate_with_templates(
            y, sr, sets, n_extra=n_extra, use=use, settings=Settings(fit=Fit(seed=seed)),
        )  # fmt: skip
        estimates = np.stack(list(result.iter_sources()))  # 1-D, as y
        out[use] = scores(targets, estimates, target_names, list(result.sources))
    blind = nmfaudio.separate_sources(y, sr, len(targets), settings=Settings(fit=Fit(seed=seed)))
    out["blind"] = scores(targets, np.stack(list(blind.iter_sources())))
    return out


def summarise(cases: list[dict], method: str) -> np.ndarray:
    """Per case: mean SDR, mean SI-SDR, worst-seed SDR, seed spread of SDR."""
    rows = []
    for case in cases:
        runs = np.array(case["scores"][method])
        rows.append((runs[:, 0].mean(), runs[:, 1].mean(), runs[:, 0].min(), np.ptp(runs[:, 0])))
    return np.array(rows)


def report(cases: list[dict], method: str, label: str) -> dict:
    ours, recipe, peer = (summarise(cases, m) for m in (method, "recipe", "peer"))
    gain = ours[:, 0] - recipe[:, 0]
    line = {
        "label": label, "n_cases": len(cases),
        "sdr": ours[:, 0].mean(), "si_sdr": ours[:, 1].mean(), "median_sdr": np.median(ours[:, 0]),
        "recipe_sdr": recipe[:, 0].mean(), "recipe_si_sdr": recipe[:, 1].mean(),
        "peer_sdr": peer[:, 0].mean(), "peer_si_sdr": peer[:, 1].mean(),
        "gain_mean": gain.mean(), "gain_worst": gain.min(),
        "at_least_recipe": int((gain >= 0).sum()), "median_seed_spread": np.median(ours[:, 3]),
    }  # fmt: skip
    print(
        f"{label:<34} {line['sdr']:6.2f} {line['si_sdr']:7.2f} {line['median_sdr']:7.2f}"
        f" {line['recipe_sdr']:7.2f} {line['peer_sdr']:6.2f} {line['gain_mean']:+6.2f}"
        f" {line['gain_worst']:+6.2f} {line['at_least_recipe']:3d}/{len(cases):<3d}"
        f" {line['median_seed_spread']:6.2f}"
    )
    return {k: (round(float(v), 3) if not isinstance(v, str) else v) for k, v in line.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="cases run in parallel")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--part", choices=("all", "blind", "supervised", "costs"), default="all")
    parser.add_argument("--cases", nargs="+", help="only these cases (their folder names)")
    args = parser.parse_args()
    figures = {}
    if args.part == "costs":
        figures["costs"] = costs(args)
    if args.part in ("all", "blind"):
        figures |= blind(args)
    if args.part in ("all", "supervised"):
        figures["supervised"] = supervised(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


def case_folders(data: Path, only: list[str] | None = None) -> list[Path]:
    """The cases of ``data/separation`` then ``data/rendered`` (either may be absent)."""
    folders = [
        p for part in ("separation", "rendered") if (data / part).is_dir()
        for p in sorted((data / part).iterdir()) if p.is_dir()
    ]  # fmt: skip
    return [f for f in folders if only is None or f.name in only]


def blind(args: argparse.Namespace) -> dict:
    folders = case_folders(args.data, args.cases)
    print(f"Blind: {len(folders)} cases, seeds {args.seeds}")
    with Pool(args.jobs) as pool:
        cases = pool.map(blind_case, [(f, args.seeds) for f in folders], chunksize=1)

    print("\nPer case, mean over seeds (worst seed, seed spread), SDR / SI-SDR in dB")
    head = f"{'case':<12} {'S':>1} {'recipe':>13} {'MFCC peer':>13}"
    print(head + "".join(f" {m:>27}" for m in BLIND))
    table = {m: summarise(cases, m) for m in ["recipe", "peer", *BLIND]}
    for i, case in enumerate(cases):
        cells = [f"{table[m][i, 0]:6.2f}/{table[m][i, 1]:6.2f}" for m in ("recipe", "peer")]
        cells += [
            f"{table[m][i, 0]:6.2f}/{table[m][i, 1]:6.2f}"
            f" ({table[m][i, 2]:5.1f},{table[m][i, 3]:4.1f})"
            for m in BLIND
        ]
        print(f"{case['case']:<12} {case['sources']:>1} " + " ".join(cells))

    print(
        f"\n{'':<34} {'SDR':>6} {'SI-SDR':>7} {'median':>7} {'recipe':>7} {'peer':>6}"
        f" {'gain':>6} {'worst':>6} {'>=recipe':>7} {'spread':>6}"
    )
    halves = {"A": cases[0::2], "B": cases[1::2]}
    summary = {"all": [report(cases, m, f"all {len(cases)}, {m}") for m in BLIND]}
    summary["cross_validation"] = []
    for select, held in (("A", "B"), ("B", "A")) if len(cases) > 1 else ():
        sdr = {r: summarise(halves[select], f"R={r}")[:, 0].mean() for r in RESTARTS}
        chosen = max(RESTARTS, key=sdr.get)
        summary["cross_validation"].append(
            report(halves[held], f"R={chosen}", f"chosen on {select} (R={chosen}), on {held}")
            | {"chosen": chosen, "selection_sdr": {r: round(float(v), 3) for r, v in sdr.items()}}
        )
    seconds = {m: sum(c["seconds"][m] for c in cases) for m in cases[0]["seconds"]}
    print("nmfaudio time over all cases and seeds:", {m: round(s, 1) for m, s in seconds.items()})
    return {"cases": cases, "summary": summary}


def costs(args: argparse.Namespace) -> dict:
    folders = case_folders(args.data, args.cases)
    print(f"Costs: {len(folders)} cases, seeds {args.seeds}, one restart each")
    with Pool(args.jobs) as pool:
        cases = pool.map(cost_case, [(f, args.seeds) for f in folders], chunksize=1)
    halves = {"A": cases[0::2], "B": cases[1::2]}
    print(
        f"\n{'cost':<18} {'SDR':>6} {'SI-SDR':>7} {'median':>7} {'worst':>6} {'spread':>6}"
        f" {'half A':>7} {'half B':>7}"
    )
    summary = {}
    for name in COSTS:
        table = summarise(cases, name)
        line = {
            "sdr": table[:, 0].mean(), "si_sdr": table[:, 1].mean(),
            "median_sdr": np.median(table[:, 0]), "worst_case_sdr": table[:, 0].min(),
            "median_seed_spread": np.median(table[:, 3]),
            "A": summarise(halves["A"], name)[:, 0].mean(),
            "B": summarise(halves["B"], name)[:, 0].mean(),
        }  # fmt: skip
        summary[name] = {k: round(float(v), 3) for k, v in line.items()}
        print(f"{name:<18}" + "".join(f" {v:6.2f} " for v in line.values()))
    for select, held in (("A", "B"), ("B", "A")):
        chosen = max(COSTS, key=lambda name: summary[name][select])
        print(
            f"chosen on {select}: {chosen} ({summary[chosen][select]:.2f});"
            f" on {held}: {summary[chosen][held]:.2f} against the default's"
            f" {summary['KL (default)'][held]:.2f}"
        )
    return {"cases": cases, "summary": summary}


def supervised(args: argparse.Namespace) -> dict:
    print("\nSupervised drums808, 4 learnt templates per drum (another kit), SDR / SI-SDR")
    rows = {"drums808": [], "cross": []}
    for seed in args.seeds:
        row = supervised_drums808(args.data, seed)
        rows["drums808"].append(row)
        print(f"seed {seed}: " + "   ".join(f"{k} {v[0]:6.2f}/{v[1]:6.2f}" for k, v in row.items()))
    print("\nSupervised across pieces: templates from one piece's parts, SDR / SI-SDR")
    for a, b in CROSS_PAIRS:
        for train, test in ((a, b), (b, a)):
            for seed in args.seeds[:3]:
                row = supervised_cross(args.data, train, test, seed)
                rows["cross"].append({"train": train, "test": test, "seed": seed} | row)
                print(
                    f"{train} -> {test} seed {seed}: "
                    + "   ".join(f"{k} {v[0]:6.2f}/{v[1]:6.2f}" for k, v in row.items())
                )
    return rows


if __name__ == "__main__":
    main()
