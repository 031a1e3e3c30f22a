"""The simple case (issue 24): pieces of a few very different parts, where K = S can win.

    python benchmarks/bench_simple_case.py --build OUT RENDERED [RENDERED ...]
    python benchmarks/bench_simple_case.py --data DIR [DIR ...] [--seeds 0 1] [--jobs 2]
                                           [--json FILE]

On held-out recordings the scikit-learn recipe (K = S) beat ``--sources`` on a
funk kit split into kick, snare and hi-hat and on a flute with a mridangam.
``--build`` makes development pieces of that kind from rendered ones (each a
``rendered/<case>/`` with ``midi/drums.mid``, as ``make_midi_corpus.py``
writes them), into ``OUT/rendered/``, every part scaled alike so that the
mixture peaks at 0.9:

- ``<corpus>_<case>_kit``: the drum score split into kick (GM notes 35-36),
  snare (37-40) and cymbals (hi-hats, crash, ride, ...), each re-rendered
  through fluidsynth and the General MIDI soundfont with the piece's kit (toms
  are left out); pieces where one of the three is silent are skipped;
- ``<corpus>_<case>_drums+<part>``: the drum stem and the piece's last pitched
  stem (its melody where it has one), summed, for pieces of more than those two
  parts (a piece of only those is that case already).

Needs fluidsynth and fluid-soundfont-gm (Debian) and mido. ``--synthetic OUT``
writes the test suite's simplest case as three pieces into ``OUT/rendered/``:
harmonic notes (5 partials) and high-passed noise clicks, 4 s at 22050 Hz.

Measured on every case of at most 3 parts below each ``--data`` folder
(``separation/`` and ``rendered/``, as ``bench_quality.py`` reads them), each
seed: the recipe; the default (the consensus of 8 restarts of 8 components per
source); the same consensus of 2 and 1 components per source (``K=2S``,
``K=S``: what ``--sources S -k 2S`` and ``-k S`` run), as in
``bench_grouping_cues.py``; and candidate detectors, each choosing per run
between the default and K=S from the recording alone:

- *independence*: the K=S or default separation whose sources are less
  dependent (the mixture-energy-weighted mean over 40 mel bands of the
  correlation over frames of two sources' band power, mean over pairs);
- *stability*: the one whose 8 restarts agree more (mean over pairs of
  restarts of the spectrogram-weighted overlap of their matched masks; after
  Brunet et al. 2004, who choose an NMF's rank by its restarts' reproducibility);
- *rank one*, *coherence*: K=S where every source of the default is nearly one
  component: the smallest share of a source's model in its first singular
  value; the smallest energy-weighted mean correlation of a source's
  components' activations (a drum's components strike together); each above
  a threshold chosen on one half of the pieces (alternate, sorted; a built case
  goes with the piece it was made from) and reported on the other;
- the oracle, the better of the two per run (the ceiling of any detector).

Then the default's own 8 fits grouped otherwise than by Ward on their MFCCs
(what fails on the kits: the cymbals take most of the components and spread
wide, so that Ward's top cuts split them and leave kick and snare together):

- *co-activation*, *onsets*: Ward on each component's activation (or its
  rises), each of unit norm, as a drum's components strike together;
  *steadier grouping* chooses per run between it and the MFCCs the one whose
  restarts agree more (the stability above);
- *z-MFCC*: the MFCCs standardised per coefficient (as scikit-learn's
  ``StandardScaler`` before clustering), so that the first, the spectral
  tilt, no longer dominates; *both scalings*: the consensus of all 16
  groupings, each fit grouped both ways; *steadier scaling* chooses per run
  between the two scalings as *steadier grouping* does, and *both where
  steady* takes both scalings where the z-MFCC groupings' restarts agree
  more than the MFCC ones', else the default (on the test suite's
  tones and clicks the z-MFCCs group by pitch: their restarts agree less);
  *both where agreeing* the same with the library's measure of agreement
  (:func:`nmfaudio.grouping.agreement`: the cosine similarity of matched
  source models, what :func:`~nmfaudio.grouping.consensus` matches by);
  *better scaled*: each fit grouped one way or the other, whichever agrees
  better with the medoid of all 16 (:func:`nmfaudio.grouping.better_scaled`),
  and *better where percussive* that where the recording is mostly
  percussive (:func:`~nmfaudio.modes.percussive_share_of` above one half),
  else the default: what ``separate_sources`` does since 0.7.0 (the row
  "default" is 0.6.0's); *percussive share >= t* the same with a threshold
  chosen on one half, reported on the other, as for *rank one*;
- *energy Ward*: each component counts in Ward's criterion by its share of
  the model; *energy split*: Ward's tree, cut top-down by splitting the group
  that holds most of the model.

Mean SDR / SI-SDR (BSS Eval v3, mir_eval) over a case's sources, then per case
the mean over seeds; per kind of case (kit, drums + part, other) and for all.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import tempfile
from multiprocessing import Pool
from pathlib import Path

import librosa
import numpy as np
import scipy.cluster.hierarchy
import soundfile as sf
from bench_grouping_cues import (
    agreement,
    grouped,
    masks,
    recipe,
    restarted,
    separated,
)
from bench_quality import CONFIG, case_folders, load_case

from nmfaudio import Sources
from nmfaudio.defaults import MOSTLY_PERCUSSIVE
from nmfaudio.frontend import Spectrogram
from nmfaudio.grouping import agreement as model_agreement
from nmfaudio.grouping import better_scaled, cluster_components, template_mfcc
from nmfaudio.modes import percussive_share_of
from nmfaudio.separation import analyse

KIT = {
    "kick": {35, 36},
    "snare": {37, 38, 39, 40},
    "cymbals": {42, 44, 46, 49, 51, 52, 53, 55, 57, 59},
}
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
CANDIDATES = {"default": 8, "K=2S": 2, "K=S": 1}  # components per source
SYNTHETIC_NOTES = [[220, 330, 262, 392], [220, 330, 262], [110, 147, 165]]  # Hz, one after another


# ---------------------------------------------------------------- building the cases
def drum_score(source: Path, notes: set[int], destination: Path) -> None:
    """The MIDI file ``source`` with only the drum hits of ``notes`` (timing kept)."""
    import mido

    song = mido.MidiFile(source)
    out = mido.MidiFile(type=song.type, ticks_per_beat=song.ticks_per_beat)
    for track in song.tracks:
        kept, carry = mido.MidiTrack(), 0
        for message in track:
            if message.type in ("note_on", "note_off") and message.note not in notes:
                carry += message.time
                continue
            kept.append(message.copy(time=message.time + carry))
            carry = 0
        out.tracks.append(kept)
    out.save(destination)


def rendered(midi: Path, sr: int, n_samples: int) -> np.ndarray:
    """``midi`` through fluidsynth as make_midi_corpus.py renders it, mono, n_samples long."""
    wav = midi.with_suffix(".wav")
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-F", str(wav), "-O", "float", "-T", "wav", "-r", str(sr),
         "-g", "0.5", SOUNDFONT, str(midi)], check=True, capture_output=True,
    )  # fmt: skip
    x = sf.read(wav, always_2d=True)[0].mean(axis=1)[:n_samples]
    return np.pad(x, (0, n_samples - len(x)))


def write_case(folder: Path, parts: dict[str, np.ndarray], sr: int) -> None:
    gain = 0.9 / max(np.abs(sum(parts.values())).max(), 1e-9)
    folder.mkdir(parents=True, exist_ok=True)
    for name, x in parts.items():
        sf.write(folder / f"{name}.wav", gain * x, sr, subtype="FLOAT")
    sf.write(folder / "mixture.wav", gain * sum(parts.values()), sr, subtype="FLOAT")


def synthetic(out: Path, sr: int = 22050, seconds: float = 4.0) -> None:
    """The test suite's simplest case, as recordings: notes of 5 harmonics and clicks."""
    t = np.arange(int(seconds * sr)) / sr
    for i, notes in enumerate(SYNTHETIC_NOTES):
        f0 = np.repeat(notes, -(-t.size // len(notes)))[: t.size]
        phase = 2 * np.pi * np.cumsum(f0) / sr
        decay = np.exp(-(t % (seconds / len(notes))) * 3)
        noise = np.diff(np.random.default_rng(i).standard_normal(t.size + 1))  # high-passed
        parts = {
            "tones": 0.3 * decay * sum(np.sin(h * phase) / h for h in range(1, 6)),
            "clicks": 0.2 * noise * np.exp(-(t % 0.25) / 0.01),
        }
        write_case(out / "rendered" / f"tones+clicks_{i}", parts, sr)


def build(out: Path, corpora: list[Path]) -> None:
    for corpus in corpora:
        tag = corpus.parent.name
        for piece in sorted(p for p in corpus.iterdir() if (p / "midi" / "drums.mid").is_file()):
            meta = json.loads((piece / "meta.json").read_text())
            sr, n = meta["sr"], round(meta["seconds"] * meta["sr"])
            with tempfile.TemporaryDirectory() as tmp:
                kit = {}
                for drum, notes in KIT.items():
                    drum_score(piece / "midi" / "drums.mid", notes, Path(tmp) / f"{drum}.mid")
                    kit[drum] = rendered(Path(tmp) / f"{drum}.mid", sr, n)
            if all(np.abs(x).max() > 1e-3 for x in kit.values()):
                write_case(out / "rendered" / f"{tag}_{piece.name}_kit", kit, sr)
            part = [s for s in meta["stems"] if s != "drums"][-1]
            if len(meta["stems"]) > 2:  # else the piece is that case already
                write_case(
                    out / "rendered" / f"{tag}_{piece.name}_drums+{part}",
                    {name: sf.read(piece / f"{name}.wav")[0] for name in ("drums", part)},
                    sr,
                )
            print(f"  built {tag}/{piece.name}", flush=True)


# ---------------------------------------------------------------- measuring
def dependence(V: np.ndarray, source_masks: np.ndarray, sr: int) -> float:
    """Mean over pairs of sources of the weighted band-power correlation over frames."""
    mel = librosa.filters.mel(sr=sr, n_fft=CONFIG.n_fft, n_mels=40)
    bands = np.einsum("mf,sft->smt", mel, (source_masks * V) ** 2)
    weight = mel @ (V**2).sum(axis=1)
    weight /= weight.sum()
    centred = bands - bands.mean(axis=-1, keepdims=True)
    norms = np.sqrt((centred**2).sum(axis=-1))
    correlation = np.einsum("imt,jmt->ijm", centred, centred) / np.maximum(
        norms[:, None] * norms[None], 1e-30
    )
    pairs = np.triu_indices(len(bands), 1)
    return float(np.mean(correlation[pairs] @ weight))


def rank_one_and_coherence(fit, groups) -> tuple[float, float]:
    """Smallest share of a source's model in its first singular value; smallest coherence."""
    W, H = fit.W.astype(np.float64), fit.H.astype(np.float64)
    shares, coherences = [], []
    for g in map(list, groups):
        singular = np.linalg.svd(W[:, g] @ H[g], compute_uv=False)
        shares.append(singular[0] ** 2 / np.sum(singular**2))
        if len(g) > 1:
            scaled = H[g] * W[:, g].sum(axis=0)[:, None]
            pairs = np.triu_indices(len(g), 1)
            energy = np.outer(scaled.sum(axis=1), scaled.sum(axis=1))[pairs]
            coherences.append(np.sum(np.corrcoef(scaled)[pairs] * energy) / np.sum(energy))
    return float(min(shares)), float(min(coherences, default=1.0))


# ---------------------------------------------------------------- other groupings
def energies(fit) -> np.ndarray:
    """Each component's share of the model ``W H`` (its L1 norm: KL is linear in scale)."""
    energy = fit.H.astype(np.float64).sum(axis=1) * fit.W.astype(np.float64).sum(axis=0)
    return np.maximum(energy, 1e-30)  # a silent component still has a mass


def labelled(labels: np.ndarray, n_sources: int) -> list[np.ndarray]:
    return [np.flatnonzero(labels == s) for s in range(n_sources)]


def by_activation(fit, sr: int, n_sources: int, rises: bool = False) -> list[np.ndarray]:
    """Ward on the components' activations (or their rises, onsets), each of unit norm."""
    H = fit.H.astype(np.float64) * fit.W.astype(np.float64).sum(axis=0)[:, None]
    H = np.maximum(np.diff(H, axis=1), 0) if rises else H
    H = H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-30)
    return labelled(cluster_components(H, n_sources), n_sources)


def standardised_mfcc(fit, sr: int, n_sources: int) -> list[np.ndarray]:
    """Ward on the MFCCs, each coefficient scaled to unit variance over the components
    (the library's ``standardised`` clustering, what ``grouping.better_scaled`` regroups by)."""
    features = template_mfcc(fit.W, sr, n_fft=CONFIG.n_fft)
    return labelled(cluster_components(features, n_sources, standardised=True), n_sources)


def energy_ward(fit, sr: int, n_sources: int) -> list[np.ndarray]:
    """Ward on the MFCCs with each component counting by its energy: merging clusters of
    masses a, b and centres x, y costs a b / (a + b) |x - y|^2."""
    centres, mass = template_mfcc(fit.W, sr, n_fft=CONFIG.n_fft), energies(fit)
    mass = mass / mass.mean()
    members = [[k] for k in range(len(centres))]
    while len(members) > n_sources:
        cost = mass[:, None] * mass / (mass[:, None] + mass)
        cost *= ((centres[:, None] - centres) ** 2).sum(axis=-1)
        np.fill_diagonal(cost, np.inf)
        i, j = np.unravel_index(np.argmin(cost), cost.shape)  # i < j: first in row order
        centres[i] = (mass[i] * centres[i] + mass[j] * centres[j]) / (mass[i] + mass[j])
        mass[i] += mass[j]
        members[i] += members.pop(j)
        centres, mass = np.delete(centres, j, axis=0), np.delete(mass, j)
    return sorted((np.array(sorted(m)) for m in members), key=lambda m: m[0])


def energy_split(fit, sr: int, n_sources: int) -> list[np.ndarray]:
    """Ward's tree on the MFCCs, cut top-down by splitting the group of most energy."""
    tree = scipy.cluster.hierarchy.linkage(template_mfcc(fit.W, sr, n_fft=CONFIG.n_fft), "ward")
    groups, energy = [scipy.cluster.hierarchy.to_tree(tree)], energies(fit)
    while len(groups) < n_sources:
        split = max(
            (g for g in groups if not g.is_leaf()), key=lambda g: energy[g.pre_order()].sum()
        )
        groups.remove(split)
        groups += [split.get_left(), split.get_right()]
    return sorted((np.array(sorted(g.pre_order())) for g in groups), key=lambda m: m[0])


GROUPINGS = {  # of the default's own fits, in place of the MFCCs and Ward
    "co-activation": by_activation,
    "onsets": functools.partial(by_activation, rises=True),
    "z-MFCC": standardised_mfcc,
    "energy Ward": energy_ward,
    "energy split": energy_split,
}


def stability(V: np.ndarray, runs) -> float:
    """Mean over pairs of restarts of the spectrogram-weighted overlap of matched masks."""
    each = [masks(f, g) for f, g in runs]
    return float(np.mean(
        [agreement(V, each[i], each[j]) for i in range(len(each)) for j in range(i + 1, len(each))]
    ))  # fmt: skip


def begun(job: tuple[Path, int]) -> tuple[dict, np.ndarray, int, np.ndarray]:
    """A case's record of one seed's run with the recipe's scores, its mixture, its rate
    and its references."""
    folder, seed = job
    y, sr, _, references = load_case(folder)
    out = {"case": f"{folder.parent.parent.name}/{folder.name}", "seed": seed}
    out["recipe"] = recipe(y, references, seed)
    return out, y, sr, references


def started(job: tuple[Path, int]) -> tuple[dict, Spectrogram, np.ndarray]:
    """:func:`begun`, with the mixture's spectrogram (at ``CONFIG``) in place of it and its
    rate: what every candidate starts from."""
    out, y, sr, references = begun(job)
    return out, analyse(y, sr, CONFIG, Sources(len(references))), references


def case(job: tuple[Path, int]) -> dict:
    out, spectrogram, references = started(job)
    sr, S, seed = spectrogram.sr, len(references), job[1]
    V = spectrogram.V.astype(np.float64)
    for label, per in CANDIDATES.items():
        fits = restarted(spectrogram, S, per, seed)
        runs = [(f, grouped(f, sr, S, 0.0)) for f in fits]
        out[label], merged, groups = separated(spectrogram, references, runs)
        out[f"dependence {label}"] = dependence(V, masks(merged, groups), sr)
        out[f"stability {label}"] = stability(V, runs)
        if label == "default":
            out["rank one"], out["coherence"] = rank_one_and_coherence(merged, groups)
            regrouped = {
                name: [(f, grouping(f, sr, S)) for f in fits]
                for name, grouping in GROUPINGS.items()
            }
            for name, other in regrouped.items():
                out[name] = separated(spectrogram, references, other)[0]
            out["stability co-activation"] = stability(V, regrouped["co-activation"])
            out["stability z-MFCC"] = stability(V, regrouped["z-MFCC"])
            out["agreement default"] = model_agreement(runs)
            out["agreement z-MFCC"] = model_agreement(regrouped["z-MFCC"])
            both = runs + regrouped["z-MFCC"]  # every fit grouped at both scales
            out["both scalings"] = separated(spectrogram, references, both)[0]
            kept = better_scaled(runs, spectrogram, S)  # each fit grouped one way or other
            out["better scaled"] = separated(spectrogram, references, kept)[0]
            out["percussive share"] = percussive_share_of(spectrogram)
    print(f"  done {out['case']} seed {seed}", flush=True)
    return out


def kind(name: str) -> str:
    return "kit" if name.endswith("_kit") else "drums+part" if "_drums+" in name else "other"


def piece(name: str) -> str:
    """The rendered piece (or recording) a case is, or was built from: ``s11_case_003``."""
    corpus, case_name = name.split("/")
    for suffix in ("_kit", "_drums+"):
        if suffix in case_name:
            return case_name[: case_name.index(suffix)]
    return f"{corpus}_{case_name}"


def by_kind(cases: list[str]):
    """Each kind of case that ``cases`` has (kit, drums + part, other), then all, with the
    mask of its cases."""
    kinds = np.array([kind(c) for c in cases])
    for group in ("kit", "drums+part", "other", "all"):
        subset = np.ones(len(cases), bool) if group == "all" else kinds == group
        if subset.any():
            yield group, subset


def introduce(runs: list[dict], cases: list[str]) -> None:
    seeds = sorted({r["seed"] for r in runs})
    print(f"\n{len(cases)} cases of 2-3 parts, seeds {seeds}; per case the mean over seeds")


def halves(cases: list[str]) -> dict[str, np.ndarray]:
    """Halves A and B of ``cases`` by piece (a built case goes where the piece it was made
    from goes), alternate in sorted order, so that each kind of case is in both."""
    pieces = [piece(c) for c in cases]
    half_of = {p: i % 2 for i, p in enumerate(sorted(set(pieces)))}
    return {h: np.array([half_of[p] == i for p in pieces]) for i, h in enumerate("AB")}


def over_seeds(runs: list[dict], rules, figure=dict.__getitem__) -> tuple[list[str], dict]:
    """The cases of ``runs``, sorted, and for the recipe and each of ``rules`` every case's
    (SDR, SI-SDR), the mean over its seeds of ``figure(run, rule)``."""
    cases = sorted({r["case"] for r in runs})
    per_case = {c: [r for r in runs if r["case"] == c] for c in cases}
    return cases, {
        rule: np.array([np.mean([figure(r, rule) for r in per_case[c]], axis=0) for c in cases])
        for rule in ("recipe", *rules)
    }


def against_recipe(label: str, picked: np.ndarray, table: dict, subset: np.ndarray,
                   width: int) -> str:  # fmt: skip
    """Mean SDR and SI-SDR, median SDR, at least the recipe and the worst gap to it."""
    sdr, si_sdr = picked[subset, 0], picked[subset, 1]
    over = sdr - table["recipe"][subset, 0]
    return (
        f"{label:<{width}}{sdr.mean():7.2f}{si_sdr.mean():8.2f}{np.median(sdr):8.2f}"
        f"{int((over >= 0).sum()):>6}/{len(sdr):<4}{over.min():+8.2f}"
    )


def header(width: int) -> str:
    return f"{'':<{width}}{'SDR':>7}{'SI-SDR':>8}{'median':>8}{'>= recipe':>10}{'worst':>8}"


def summary(label: str, picked: np.ndarray, table: dict, subset: np.ndarray) -> str:
    gain = picked[subset, 0] - table["default"][subset, 0]
    return (
        f"{against_recipe(label, picked, table, subset, 24)}{gain.mean():+11.2f}"
        f"{int((gain > 0.1).sum()):>5}/{int((gain < -0.1).sum()):<4}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", nargs="+", type=Path, metavar=("OUT", "RENDERED"))
    parser.add_argument("--synthetic", type=Path, metavar="OUT")
    parser.add_argument("--data", type=Path, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--report", type=Path, help="only report the runs of a --json file")
    args = parser.parse_args()
    if args.build:
        return build(args.build[0], args.build[1:])
    if args.synthetic:
        return synthetic(args.synthetic)
    if args.report:
        return report(json.loads(args.report.read_text()))
    report(measured(case, args))


def measuring(case_runs, report, description: str) -> None:
    """The command line of a benchmark that measures ``case_runs`` as :func:`measured`
    does and reports the runs with ``report``, or only reports saved ones."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--report", type=Path, nargs="+", help="only report saved --json runs")
    args = parser.parse_args()
    if args.report:
        return report([run for saved in args.report for run in json.loads(saved.read_text())])
    report(measured(case_runs, args))


def measured(case_runs, args: argparse.Namespace) -> list[dict]:
    """``case_runs((folder, seed))`` for every case of at most 3 parts below each of
    ``args.data`` and each of ``args.seeds``, in ``args.jobs`` processes; saved to
    ``args.json`` where given."""
    folders = [f for data in args.data for f in case_folders(data)]
    folders = [f for f in folders if len(load_case(f)[2]) <= 3]
    with Pool(args.jobs) as pool:
        jobs = [(f, s) for f in folders for s in args.seeds]
        runs = pool.map(case_runs, jobs, chunksize=1)
    if args.json:
        args.json.write_text(json.dumps(runs))
    return runs


def report(runs: list[dict]) -> None:
    # Runs saved before the other groupings were measured have none of them.
    groupings = [g for g in (*GROUPINGS, "both scalings", "better scaled") if g in runs[0]]
    cases, table = over_seeds(runs, [*CANDIDATES, *groupings])
    per_case = {c: [r for r in runs if r["case"] == c] for c in cases}

    def picked(pick) -> np.ndarray:  # pick(run) -> candidate; per case, mean over seeds
        return np.array([np.mean([r[pick(r)] for r in per_case[c]], axis=0) for c in cases])

    rules = {
        "oracle (ceiling)": lambda r: max(("default", "K=S"), key=lambda m: r[m][0]),
        "independence": lambda r: min(("default", "K=S"), key=lambda m: r[f"dependence {m}"]),
        "stability": lambda r: max(("default", "K=S"), key=lambda m: r[f"stability {m}"]),
    }
    if "stability co-activation" in runs[0]:
        rules["steadier grouping"] = lambda r: max(
            ("default", "co-activation"), key=lambda m: r[f"stability {m}"]
        )
    if "stability z-MFCC" in runs[0]:
        rules["steadier scaling"] = lambda r: max(
            ("default", "z-MFCC"), key=lambda m: r[f"stability {m}"]
        )
        rules["both where steady"] = lambda r: (
            "both scalings" if r["stability z-MFCC"] > r["stability default"] else "default"
        )
    if "agreement z-MFCC" in runs[0]:
        rules["both where agreeing"] = lambda r: (
            "both scalings" if r["agreement z-MFCC"] > r["agreement default"] else "default"
        )
    if "percussive share" in runs[0]:  # what separate_sources does since 0.7.0
        rules["better where percussive"] = lambda r: (
            "better scaled" if r["percussive share"] > MOSTLY_PERCUSSIVE else "default"
        )
    halved = halves(cases)
    everywhere = np.ones(len(cases), bool)
    rows = {m: (picked, everywhere) for m, picked in table.items()}  # name: (figures, shown on)
    rows |= {name: (picked(rule), everywhere) for name, rule in rules.items()}
    switches = {"rank one": "K=S", "coherence": "K=S", "percussive share": "better scaled"}
    for feature in (f for f in switches if f in runs[0]):
        thresholds = sorted({r[feature] for r in runs} | {np.inf}, reverse=True)  # ties: fire less
        for select, held in (("A", "B"), ("B", "A")):

            def chosen(tau, feature=feature):
                switch = switches[feature]
                return picked(lambda run: switch if run[feature] >= tau else "default")

            tau = max(thresholds, key=lambda t: chosen(t)[halved[select], 0].mean())
            rows[f"{feature} >= {tau:.3f} on {held}"] = (chosen(tau), halved[held])
    introduce(runs, cases)
    print(f"{header(24)}{'vs default':>11}{'+/-':>7}   (worst: against the recipe)")
    for group, subset in by_kind(cases):
        print(f"-- {group}: {int(subset.sum())} cases")
        for name, (picked, shown) in rows.items():
            if (subset & shown).any():
                print(summary(name, picked, table, subset & shown))


if __name__ == "__main__":
    main()
