"""Settings as values: each checked once where it is made, the same words from the library
and the command line, and recorded in the manifest to be read back whole."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli import run

import nmfaudio
from nmfaudio import ParameterError
from nmfaudio.outputs import MANIFEST
from nmfaudio.settings import Cost, Fit, Output, Settings, STFTConfig


def test_frames_lasting_a_duration_are_the_nearest_power_of_two_within_the_limits():
    assert [STFTConfig.lasting(0.046, sr).n_fft for sr in (8000, 22050, 44100, 48000)] == [
        512, 1024, 2048, 2048,
    ]  # fmt: skip
    assert STFTConfig.lasting(0.046, 22050) == STFTConfig(n_fft=1024, hop_length=256)
    assert STFTConfig.lasting(1e-4, 8000).n_fft == 256  # four of the shortest hop
    assert STFTConfig.lasting(100.0, 384000).n_fft == 2**16  # the longest frame
    with pytest.raises(ParameterError, match="seconds must be greater than 0, got 0"):
        STFTConfig.lasting(0, 8000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_fft": 0}, "n_fft must be a positive integer, got 0"),
        ({"hop_length": -5}, "hop_length must be a positive integer, got -5"),
        ({"n_fft": 256, "hop_length": 512}, "at most n_fft=256"),
        ({"n_fft": 256, "hop_length": 256}, "too large for a hann window"),
        ({"window": "hamming"}, "window must be one of hann, got 'hamming'"),
    ],
)
def test_stft_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        STFTConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beta": -1}, "beta must be a finite number >= 0 or one of is, .* got -1"),
        ({"beta": float("nan")}, "got nan"),
        ({"beta": float("inf")}, "got inf"),
        ({"beta": "ks"}, "one of is, itakura-saito, kl"),
        ({"beta": True}, "got True"),
        ({"sparsity_H": -0.1}, "sparsity_H .* got -0.1"),
        ({"l2_W": float("nan")}, "l2_W"),
        ({"continuity_H": "1"}, "continuity_H"),
    ],
)
def test_cost_rejects_bad_values_naming_them(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Cost(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_iter": 0}, "n_iter"),
        ({"tol": -1}, "tol"),
        ({"init": "nmf"}, "'nmf'"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
    ],
)
def test_fit_rejects_bad_values_naming_them(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Fit(**kwargs)


def test_cost_names_and_describes_itself():
    assert Cost(beta="IS").beta == 0.0 and Cost(beta="euclidean").beta == 2.0
    assert Cost().describe() == "KL divergence"
    assert Cost(beta=1.5, sparsity_H=0.01).describe() == "β-divergence (β = 1.5) + sparsity_H 0.01"
    both = Cost.of(beta="is", sparsity=0.1, continuity=2)
    assert both.penalties == {"sparsity_W": 0.1, "sparsity_H": 0.1, "continuity_H": 2.0}
    assert both.depends_on_scale and not Cost(continuity_H=1).depends_on_scale


def test_settings_take_only_their_values_and_check_the_mask_power():
    with pytest.raises(ParameterError, match="cost must be a Cost, got float"):
        Settings(cost=1.0)
    with pytest.raises(ParameterError, match="mask_power must be at most 8"):
        Settings(mask_power=9)
    with pytest.raises(ParameterError, match="mask_power must be greater than 0"):
        Settings(mask_power=0)
    with pytest.raises(ParameterError, match="subtype must be one of FLOAT"):
        Output(subtype="MP3")
    with pytest.raises(ParameterError, match="ask for the report too"):
        Output(reference="refs")
    assert Output(subtype="pcm_16").subtype == "PCM_16"


@settings(max_examples=60, deadline=None)
@given(
    n_fft=st.sampled_from([256, 512, 2048]),
    hop_divisor=st.sampled_from([2, 4]),
    beta=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]),
    sparsity=st.sampled_from([0.0, 1e-3]),
    continuity=st.sampled_from([0.0, 0.5]),
    n_iter=st.integers(1, 500),
    tol=st.sampled_from([0.0, 1e-4, 0.1]),
    init=st.sampled_from(["random", "nndsvda"]),
    seed=st.one_of(st.none(), st.integers(0, 2**32)),
    mask_power=st.sampled_from([0.5, 1.0, 2.0, 8.0]),
)
def test_settings_survive_the_manifest_exactly(
    n_fft, hop_divisor, beta, sparsity, continuity, n_iter, tol, init, seed, mask_power
):
    value = Settings(
        stft=STFTConfig(n_fft=n_fft, hop_length=n_fft // hop_divisor),
        cost=Cost.of(beta=beta, sparsity=sparsity, continuity=continuity),
        fit=Fit(n_iter=n_iter, tol=tol, init=init, seed=seed),
        mask_power=mask_power,
    )
    record = json.loads(json.dumps(value.to_manifest()))  # through JSON, as written
    assert Settings.from_manifest(record) == value


def test_a_generator_seed_is_recorded_as_unknown_and_old_manifests_get_the_defaults():
    rng = np.random.default_rng(0)
    assert Fit(seed=rng).to_manifest()["seed"] is None
    assert Settings.from_manifest({"n_fft": 1024}) == Settings(stft=STFTConfig(n_fft=1024))
    with pytest.raises(ParameterError, match="unknown penalties"):
        Cost.from_manifest({"penalties": {"l3": 1}})


def test_the_manifest_records_every_setting_of_a_run(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "out"
    status, _, err = run(
        capsys, "separate", example_mixture, "-k", "3", "-o", outdir, "--n-fft", "512",
        "--hop", "128", "--iterations", "7", "--tol", "0", "--seed", "5", "--beta", "is",
        "--sparsity", "0.001", "--mask-power", "1", "-q",
    )  # fmt: skip
    assert status == 0, err
    manifest = json.loads((outdir / MANIFEST).read_text())
    assert Settings.from_manifest(manifest) == Settings(
        stft=STFTConfig(n_fft=512, hop_length=128),
        cost=Cost.of(beta="is", sparsity=0.001),
        fit=Fit(n_iter=7, tol=0, seed=5),
        mask_power=1,
    )
    assert manifest["iterations"] == 7


@pytest.mark.parametrize(
    ("option", "text", "library"),
    [
        ("--beta", "-1", lambda: Cost(beta=-1.0)),
        ("--beta", "ks", lambda: Cost(beta="ks")),
        ("--sparsity", "-0.5", lambda: Cost.of(sparsity=-0.5)),
        ("--tol", "-1", lambda: Fit(tol=-1.0)),
        ("--iterations", "0", lambda: Fit(n_iter=0)),
        ("--seed", "-3", lambda: Fit(seed=-3)),
        ("--n-fft", "0", lambda: STFTConfig(n_fft=0)),
        ("--hop", "1", lambda: STFTConfig(hop_length=1)),
        ("--mask-power", "9", lambda: Settings(mask_power=9.0)),
        ("--subtype", "MP3", lambda: Output(subtype="MP3")),
    ],
)
def test_the_command_line_refuses_what_the_library_refuses_in_its_words(
    capsys, tmp_path, example_mixture, option, text, library
):
    with pytest.raises(ParameterError) as refused:
        library()
    status, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "o", option, text)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert str(refused.value) in err, (err, str(refused.value))
    assert not (tmp_path / "o").exists()


def test_library_separation_records_its_settings(example_mixture):
    y, sr = nmfaudio.load(example_mixture)
    chosen = Settings(stft=STFTConfig(n_fft=1024, hop_length=256), fit=Fit(n_iter=5))
    result = nmfaudio.separate(y, sr, 2, settings=chosen)
    assert result.settings == chosen and result.config == chosen.stft
    assert len(result.losses) <= 5
