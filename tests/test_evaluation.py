"""Evaluation: BSS Eval through mir_eval, SI-SDR, matching, the evaluate command."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import soundfile as sf
from conftest import settings_of
from test_cli import run

import nmfaudio
from nmfaudio import ParameterError, evaluate
from nmfaudio.cli import main
from nmfaudio.evaluation import evaluate_dirs, si_sdr


def sources(n_samples=8000, seed=0):
    """Three distinct sources: a tone, a chirp-like tone, noise bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 8000
    tone = np.sin(2 * np.pi * 220 * t)
    sweep = np.sin(2 * np.pi * (500 + 300 * t) * t)
    bursts = rng.standard_normal(n_samples) * (np.sin(2 * np.pi * 3 * t) > 0.5)
    return np.array([tone, sweep, bursts])


def mixed_estimates(refs, leak=0.1, seed=1):
    """Each estimate: its source, a little of the others, a little noise."""
    rng = np.random.default_rng(seed)
    mixing = np.full((len(refs), len(refs)), leak) + (1 - leak) * np.eye(len(refs))
    return mixing @ refs + 0.01 * rng.standard_normal(refs.shape)


def test_matches_mir_eval_and_finds_the_permutation():
    mir_eval = pytest.importorskip("mir_eval")
    refs = sources()
    ests = mixed_estimates(refs)[[2, 0, 1]]  # shuffled, unnamed
    result = evaluate(refs, ests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdr, sir, sar, perm = mir_eval.separation.bss_eval_sources(refs, ests)
    np.testing.assert_allclose(result.sdr, sdr)
    np.testing.assert_allclose(result.sir, sir)
    np.testing.assert_allclose(result.sar, sar)
    assert result.matched == ["estimate_01", "estimate_02", "estimate_00"]
    assert list(perm) == [1, 2, 0]
    assert result.sdr.min() > 10


def test_si_sdr_is_scale_invariant_and_matches_a_known_snr():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(50_000)
    noise = rng.standard_normal(50_000)
    noise -= noise @ ref / (ref @ ref) * ref  # orthogonal to the reference
    noise *= np.sqrt((ref @ ref) / (noise @ noise) / 100)  # 20 dB below
    assert si_sdr(ref, ref + noise) == pytest.approx(20, abs=1e-6)
    assert si_sdr(ref, 0.3 * (ref + noise)) == pytest.approx(20, abs=1e-6)


def test_matching_by_name_ignores_order_and_extra_estimates():
    refs = sources()
    ests = np.vstack([mixed_estimates(refs), np.zeros((1, refs.shape[1]))])
    names = ["tone", "sweep", "bursts"]
    result = evaluate(refs, ests[[2, 3, 0, 1]], reference_names=names,
                      estimate_names=["bursts", "extra", "tone", "sweep"])  # fmt: skip
    assert result.matched == names
    direct = evaluate(refs, ests[:3], reference_names=names, estimate_names=names)
    np.testing.assert_allclose(result.sdr, direct.sdr)


def test_multichannel_signals_are_scored_on_their_channel_mean():
    refs = sources()
    ests = mixed_estimates(refs)
    stereo = evaluate(np.stack([refs, refs], axis=1), np.stack([ests, ests], axis=1))
    mono = evaluate(refs, ests)
    np.testing.assert_allclose(stereo.sdr, mono.sdr)


@pytest.mark.parametrize(
    ("refs", "ests", "message"),
    [
        (sources(), sources()[:, :-10], "must have the same length"),
        (sources(), sources()[:2], "3 references but 2 estimates"),
        (np.vstack([sources()[:2], np.zeros((1, 8000))]), sources(), "is silent"),
        (sources(), np.full((3, 8000), np.nan), "NaN"),
        (np.zeros(10), sources(), "must have shape"),
    ],
)
def test_bad_input(refs, ests, message):
    with pytest.raises(ParameterError, match=message):
        evaluate(refs, ests)


def write_dir(folder, signals, names, sr=8000):
    folder.mkdir()
    for name, y in zip(names, signals, strict=True):
        sf.write(folder / f"{name}.wav", y.astype(np.float32), sr, subtype="FLOAT")
    return folder


def test_cli_table_and_json(capsys, tmp_path):
    refs = sources()
    ref_dir = write_dir(tmp_path / "ref", [*refs, refs.sum(0)], ["a", "b", "c", "mixture"])
    est_dir = write_dir(tmp_path / "est", mixed_estimates(refs), ["c_est", "a_est", "b_est"])
    assert main(["evaluate", str(ref_dir), str(est_dir)]) == 0
    table, footer = capsys.readouterr().out.split("\n\n")
    table = table.splitlines()
    assert table[0].split() == ["reference", "estimate", "SDR", "SIR", "SAR", "SI-SDR"]
    assert [row.split()[0] for row in table[1:]] == ["a", "b", "c", "mean"]
    # What each measures, since they can disagree by 20 dB on one pair (both correctly):
    footer = " ".join(footer.split())
    assert "512-tap filter" in footer and "SI-SDR forgives only a gain" in footer
    status, out, _ = run(capsys, "evaluate", "--help")
    assert status == 0 and "SI-SDR forgives only a gain" in " ".join(out.split())
    assert main(["evaluate", str(ref_dir), str(est_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["reference"] for s in data["sources"]] == ["a", "b", "c"]
    direct = evaluate(refs, mixed_estimates(refs))
    assert data["mean"]["sdr"] == pytest.approx(direct.mean()["sdr"], abs=1e-3)


def test_references_at_another_rate_are_resampled_to_the_estimates_rate(capsys, tmp_path):
    import librosa

    refs = sources()
    est_dir = write_dir(tmp_path / "est", mixed_estimates(refs), ["a", "b", "c"])
    doubled = librosa.resample(refs, orig_sr=8000, target_sr=16000, axis=-1)
    ref_dir = write_dir(tmp_path / "ref", doubled, ["a", "b", "c"], sr=16000)
    scores = evaluate_dirs(ref_dir, est_dir)
    direct = evaluate(refs, mixed_estimates(refs), reference_names=list("abc"),
                      estimate_names=list("abc"))  # fmt: skip
    # as scored at one rate, but for the resampling filter's roll-off near 4 kHz
    assert scores.mean()["sdr"] == pytest.approx(direct.mean()["sdr"], abs=1.5)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "not a directory"),
        ("empty", "no audio files"),
        ("short", "same length"),
        ("rate", "Hz"),
    ],
)
def test_cli_bad_directories(capsys, tmp_path, setup, message):
    refs = sources()
    ref_dir = write_dir(tmp_path / "ref", refs, ["a", "b", "c"])
    est_dir = tmp_path / "est"
    if setup == "empty":
        est_dir.mkdir()
    elif setup == "short":
        write_dir(est_dir, refs[:, :-100], ["a", "b", "c"])
    elif setup == "rate":
        write_dir(est_dir, refs, ["a", "b", "c"], sr=16000)
    assert main(["evaluate", str(ref_dir), str(est_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_real_music_separation_scores(separation_case, tmp_path):
    case = separation_case("drums808")
    y, sr = nmfaudio.load(case / "mixture.wav")
    result = nmfaudio.separate(y, sr, 3, settings=settings_of(seed=0))
    nmfaudio.save(result, tmp_path)
    scores = nmfaudio.evaluation.evaluate_dirs(case, tmp_path)
    assert sorted(scores.names) == ["hihat", "kick", "snare"]
    assert sorted(scores.matched) == ["component_00", "component_01", "component_02"]
    assert scores.sdr.max() > 10  # the kick, at least, comes out clean


def test_a_silent_estimate_scores_minus_infinity_and_leaves_the_others_as_they_are():
    refs = sources()
    ests = mixed_estimates(refs)
    silent = ests.copy()
    silent[1] = 0
    names = ["a", "b", "c"]
    result = evaluate(refs, silent, reference_names=names, estimate_names=names)
    assert all(np.isneginf(getattr(result, m)[1]) for m in ("sdr", "sir", "sar", "si_sdr"))
    # Each estimate is scored against the references alone: the others do not change.
    other = ests.copy()
    other[1] = refs[1]
    expected = evaluate(refs, other, reference_names=names, estimate_names=names)
    for metric in ("sdr", "sir", "sar", "si_sdr"):
        np.testing.assert_allclose(
            getattr(result, metric)[[0, 2]], getattr(expected, metric)[[0, 2]]
        )
    shuffled = evaluate(refs, silent[[2, 1, 0]])  # unnamed: matched by permutation
    assert shuffled.matched == ["estimate_02", "estimate_01", "estimate_00"]
    assert np.isneginf(shuffled.sdr[1]) and np.isfinite(shuffled.sdr[[0, 2]]).all()
    assert json.loads(json.dumps(result.to_dict()))["sources"][1]["sdr"] is None


def test_cli_scores_a_silent_file_and_refuses_a_fifo(capsys, tmp_path):
    refs = sources()
    for folder, signals in (("ref", refs), ("est", mixed_estimates(refs))):
        (tmp_path / folder).mkdir()
        for name, signal in zip("abc", signals, strict=True):
            sf.write(tmp_path / folder / f"{name}.wav", signal, 8000, subtype="FLOAT")
    sf.write(tmp_path / "est" / "b.wav", np.zeros(8000), 8000, subtype="FLOAT")
    assert main(["evaluate", str(tmp_path / "ref"), str(tmp_path / "est")]) == 0
    out = capsys.readouterr().out
    assert "-inf" in out.splitlines()[2]  # the row of b
    os.mkfifo(tmp_path / "est" / "d.wav")
    assert main(["evaluate", str(tmp_path / "ref"), str(tmp_path / "est")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file" in err


def test_ten_unnamed_sources_are_matched_at_once_by_the_hungarian_algorithm():
    # Every permutation of ten (3.6 million) took hours; the assignment takes ten calls.
    from nmfaudio.evaluation import _best_assignment

    truth = np.random.default_rng(1).permutation(10)  # estimate truth[i] is reference i's
    calls = []

    def bss_eval(references, estimates, compute_permutation):
        assert not compute_permutation
        calls.append(1)
        j = estimates[:, 0].astype(int)  # each fake estimate carries its index
        sir = -np.abs(np.argsort(truth)[j] - np.arange(10)).astype(float)
        return sir + 1, sir, sir + 2, np.arange(10)

    estimates = np.arange(10.0)[:, None] * np.ones((10, 3))
    sdr, sir, sar, order = _best_assignment(bss_eval, np.zeros((10, 3)), estimates)
    assert list(order) == list(truth) and len(calls) == 10
    assert (sir == 0).all() and (sdr == 1).all() and (sar == 2).all()


def test_name_lists_must_fit_the_signals():
    refs = np.random.default_rng(0).standard_normal((2, 1000))
    with pytest.raises(ParameterError, match="1 estimate names for 2 estimates"):
        evaluate(refs, refs, reference_names=["a", "b"], estimate_names=["a"])
